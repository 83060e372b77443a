-- rtsp.jitter (RFC 3550 A.8) takes each packet's arrival from the kernel's
-- receive stamp of the read that brought it (conn:rx_ns), not from the
-- loop's clock when the reader got round to it: a busy worker's lateness
-- is not the stream's jitter. Before, 2000 readers on a loaded client
-- reported 0.92 ms where tcpdump's kernel stamps said 0.61.
local t = require "tap"
local fakeconn = require "fakeconn"
local surge = require "surge"

local metrics = {}
surge.now_ns = fakeconn.now_ns
surge.count = function() end
surge.error = function() end
surge.metric = function(name, v) metrics[name] = v end
local rtsp = require "surge.proto.rtsp"

local MS = 1e6
local answer = fakeconn.rtsp_answer
local function u32(n)
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
    math.floor(n / 256) % 256, n % 256)
end
local function frame(seq, ts)
  local p = string.char(0x80, 96, math.floor(seq / 256) % 256, seq % 256) .. u32(ts) .. u32(1) .. "\65"
  return "$" .. string.char(0, 0, #p) .. p
end
local SDP = "v=0\r\ns=x\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" ..
  "a=control:track0\r\n"

-- 25 packets a second (RTP timestamps 3600 apart at 90 kHz) that the
-- kernel received exactly 40 ms apart, but that the reader's loop got to
-- 0 or 3 ms late, in turn (a busy worker).
fakeconn.clock = 0
local c = fakeconn.new(answer(1, { "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN" }) ..
  answer(2, { "Content-Base: rtsp://127.0.0.1/cam/", "Content-Type: application/sdp" }, SDP) ..
  answer(3, { "Session: 1", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1" }) ..
  answer(4, { "Session: 1" }))
c.target = { url = "rtsp://127.0.0.1/cam" }
for i = 0, 40 do
  local rx = (100 + 40 * i) * MS
  c:at(rx + (i % 2 == 0 and 3 or 0) * MS, frame(i, 1000 + 3600 * i), rx)
end
local ok, err = pcall(rtsp.reader { watch = "1s", timeout = "1s" }.session, c)
t.ok(ok, "the reader returns (" .. tostring(err) .. ")")
t.ok(metrics["rtsp.jitter"] and metrics["rtsp.jitter"] < 0.01 * MS,
  "kernel stamps 40 ms apart: jitter ~0, the loop's 3 ms lateness left out ("
  .. tostring(metrics["rtsp.jitter"] and metrics["rtsp.jitter"] / MS) .. " ms)")
t.is(metrics["rtsp.first_packet"], 100 * MS, "rtsp.first_packet ends at the kernel's stamp too")

-- Where the engine has no stamp (nil), arrival is the loop's time.
fakeconn.clock = 0
c = fakeconn.new(answer(1, {}) ..
  answer(2, { "Content-Base: rtsp://127.0.0.1/cam/", "Content-Type: application/sdp" }, SDP) ..
  answer(3, { "Session: 1", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1" }) ..
  answer(4, { "Session: 1" }))
c.target = { url = "rtsp://127.0.0.1/cam" }
for i = 0, 40 do c:at((100 + 40 * i + (i % 2 == 0 and 3 or 0)) * MS, frame(i, 1000 + 3600 * i), false) end
pcall(rtsp.reader { watch = "1s", timeout = "1s" }.session, c)
t.ok(metrics["rtsp.jitter"] > 1 * MS, "no stamps: the loop's times, 3 ms apart from even ("
  .. metrics["rtsp.jitter"] / MS .. " ms)")
t.done()
