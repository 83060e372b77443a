-- rtsp reader SETUP: the interleaved channels the server's Transport names
-- (RFC 2326 12.39) must fit the one octet of a '$' frame (10.12); others
-- are a protocol error of the SETUP step, never stored (they wrapped onto
-- another track's channel: 65536 became 0).
local t = require "tap"
local fakeconn = require "fakeconn"
local surge = require "surge"

-- What the reader counts, seen before rtsp.lua caches surge's functions.
local counts, errors = {}, {}
surge.count = function(name, n) counts[name] = (counts[name] or 0) + (n or 1) end
surge.error = function(class, n) errors[class] = (errors[class] or 0) + (n or 1) end
local rtsp = require "surge.proto.rtsp"

local a, b = rtsp.interleaved("RTP/AVP/TCP;unicast;interleaved=0-1", 0)
t.ok(a == 0 and b == 1, "interleaved=0-1: channels 0 and 1")
a, b = rtsp.interleaved("RTP/AVP/TCP;unicast;interleaved=254-255", 0)
t.ok(a == 254 and b == 255, "254-255: the last channels an octet holds")
a, b = rtsp.interleaved("RTP/AVP/TCP;unicast;interleaved=6", 0)
t.ok(a == 6 and b == 7, "one channel: RTCP on the next")
a, b = rtsp.interleaved("RTP/AVP/TCP;unicast;interleaved=255", 0)
t.ok(a == 255 and b == -1, "255 alone: no channel left for RTCP")
a, b = rtsp.interleaved(nil, 2)
t.ok(a == 4 and b == 5, "no Transport in the answer: the channels asked (2k, 2k+1)")
for _, tr in ipairs({ "interleaved=65535-65536", "interleaved=300-301", "interleaved=256",
                      "interleaved=0-256", "interleaved=99999999999999999999-0" }) do
  a, b = rtsp.interleaved("RTP/AVP/TCP;unicast;" .. tr, 0)
  t.ok(a == nil and b == "bad transport", tr .. ": bad transport")
end

-- A whole reader against canned answers: SETUP's Transport names channels
-- 300-301, so the reader stops there, counted as a protocol error of SETUP,
-- and never sends PLAY.
local answer = fakeconn.rtsp_answer
local SDP = "v=0\r\ns=x\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" ..
  "a=control:track1\r\n"
local c = fakeconn.new(answer(1, { "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN" }) ..
  answer(2, { "Content-Base: rtsp://127.0.0.1/live/", "Content-Type: application/sdp" }, SDP) ..
  answer(3, { "Session: 12345678;timeout=60", "Transport: RTP/AVP/TCP;unicast;interleaved=300-301" }))
c.target = { url = "rtsp://127.0.0.1/live" }
local ok, err = pcall(rtsp.reader { watch = "1s" }.session, c)
t.ok(ok, "the reader returns (" .. tostring(err) .. ")")
t.is(counts["rtsp.error.setup.bad_transport"], 1, "counted as rtsp.error.setup.bad_transport")
t.is(errors.protocol, 1, "a protocol error")
t.is(#c.sent, 3, "OPTIONS, DESCRIBE, SETUP sent; no PLAY")
t.ok(not counts["rtsp.sessions"] and not counts["rtsp.unknown_channel"], "no session, no frames read")
t.done()
