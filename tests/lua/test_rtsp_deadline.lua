-- Each RTSP request has its own deadline (the reader's timeout), however
-- much interleaved RTP arrives meanwhile: a server that streams but never
-- answers PLAY, or a keepalive, fails that step as a timeout. Before, only
-- silence timed a reader out, and every '$' frame ended the silence: a
-- reader waited for PLAY's answer as long as packets came (15 s runs: 0
-- errors, readers unfinished).
local t = require "tap"
local fakeconn = require "fakeconn"
local surge = require "surge"

local counts, errors = {}, {}
surge.now_ns = fakeconn.now_ns
surge.count = function(name, n) counts[name] = (counts[name] or 0) + (n or 1) end
surge.error = function(class, n) errors[class] = (errors[class] or 0) + (n or 1) end
local on_metric
surge.metric = function(name) if on_metric then on_metric(name) end end
local rtsp = require "surge.proto.rtsp"

local MS = 1e6
local answer = fakeconn.rtsp_answer
local function frame(seq, nal)
  local p = string.char(0x80, 96, math.floor(seq / 256) % 256, seq % 256, 0, 0, 0, 0, 0, 0, 0, 1,
    nal or 65)
  return "$" .. string.char(0, 0, #p) .. p
end
local SDP = "v=0\r\ns=x\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" ..
  "a=control:track0\r\n"
local SETUP_TO = answer(1, { "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER" }) ..
  answer(2, { "Content-Base: rtsp://127.0.0.1/cam/", "Content-Type: application/sdp" }, SDP)

-- One reader, watch 5 s, timeout 1 s, against the answers in `now`, then
-- what `at` schedules: { ms, bytes } and RTP every 20 ms for 10 s. Returns
-- the fake time (ms) the reader ended at.
local function read(session_timeout, now, at)
  for k in pairs(counts) do counts[k] = nil end
  for k in pairs(errors) do errors[k] = nil end
  fakeconn.clock = 0
  local c = fakeconn.new(SETUP_TO .. answer(3, { "Session: 1" .. session_timeout,
    "Transport: RTP/AVP/TCP;unicast;interleaved=0-1" }) .. now)
  c.target = { url = "rtsp://127.0.0.1/cam" }
  local sched = {}
  for i = 1, 500 do sched[#sched + 1] = { i * 20, frame(i) } end
  for _, a in ipairs(at or {}) do sched[#sched + 1] = { a[1] - 0.5, a[2] } end
  table.sort(sched, function(x, y) return x[1] < y[1] end)
  for _, a in ipairs(sched) do c:at(a[1] * MS, a[2]) end
  local ok, err = pcall(rtsp.reader { watch = "5s", timeout = "1s" }.session, c)
  t.ok(ok, "the reader returns (" .. tostring(err) .. ")")
  return fakeconn.clock / MS
end

-- PLAY never answered while RTP flows: PLAY's timeout at 1 s.
local at = read("", "")
t.is(counts["rtsp.error.play.timeout"], 1, "PLAY unanswered: rtsp.error.play.timeout")
t.is(errors.request_timeout, 1, "one request_timeout")
t.ok(not counts["rtsp.sessions"] and not counts["rtsp.error.play.closed"], "no session played")
t.ok(at >= 1000 and at < 1100, "failed at PLAY's deadline, 1 s after it was sent, not when RTP stopped ("
  .. at .. " ms)")

-- PLAY answered after 0.6 s, amid RTP: within its time, the session plays.
at = read("", "", { { 600, answer(4, { "Session: 1" }) }, { 5700, answer(5, {}) } })
t.ok(counts["rtsp.sessions"] == 1 and counts["rtsp.watched"] == 1 and
  counts["rtsp.status.teardown.200"] == 1 and not next(errors),
  "PLAY answered within its timeout: played, watched, torn down, no error")

-- PLAY's answer came in time (0.8 s), behind a keyframe, but the reader's
-- loop got to it late (a busy worker: 0.5 s spent on the keyframe): what
-- came within the deadline is read before the deadline is judged.
on_metric = function(name)
  if name == "rtsp.first_keyframe" then fakeconn.clock = fakeconn.clock + 500 * MS end
end
read("", "", { { 800, frame(600, 0x65) .. answer(4, { "Session: 1" }) } })
on_metric = nil
t.ok(counts["rtsp.sessions"] == 1 and not counts["rtsp.error.play.timeout"],
  "an answer that came in time is taken though the loop reached it past the deadline")

-- Keepalives (GET_PARAMETER each 0.5 s for timeout=1) never answered: the
-- first one's timeout ends the reader, as the keepalive step's.
at = read(";timeout=1", answer(4, { "Session: 1" }))
t.is(counts["rtsp.error.keepalive.timeout"], 1, "keepalive unanswered: rtsp.error.keepalive.timeout")
t.ok(counts["rtsp.sessions"] == 1 and not counts["rtsp.watched"] and errors.request_timeout == 1,
  "after PLAY, before the end of the watch; one request_timeout")
t.ok(at >= 1500 and at < 1600, "at the first keepalive's deadline, 0.5 + 1 s after PLAY (" .. at .. " ms)")

-- Silence still ends a reader that waits for nothing (the stream stops).
for k in pairs(counts) do counts[k] = nil end
fakeconn.clock = 0
local c = fakeconn.new(SETUP_TO .. answer(3, { "Session: 1", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1" })
  .. answer(4, { "Session: 1" }))
c.target = { url = "rtsp://127.0.0.1/cam" }
c:at(100 * MS, frame(1))
c:at(9000 * MS, frame(2))
pcall(rtsp.reader { watch = "5s", timeout = "1s" }.session, c)
t.ok(counts["rtsp.error.play.timeout"] == 1 and fakeconn.clock / MS < 1200,
  "1 s of silence while watching: rtsp.error.play.timeout (" .. fakeconn.clock / MS .. " ms)")
t.done()
