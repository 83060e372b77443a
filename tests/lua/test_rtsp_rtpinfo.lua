-- PLAY's RTP-Info (RFC 2326 12.33) names each track by URL; the reader
-- takes each track's first seq from the entry naming the URL its SETUP
-- used, so rtsp.first_seq_gap counts packets lost before a track's first.
-- SETUP resolves controls against a Content-Base ending in "/" (C.1.1:
-- rtsp://h/cam/track0); a server that appends "/track0" to the aggregate
-- URL writes rtsp://h/cam//track0 (surge serve rtsp did): the same track.
-- Before, no entry matched on a stream of two tracks and no gap counted.
local t = require "tap"
local fakeconn = require "fakeconn"
local surge = require "surge"

local counts = {}
surge.count = function(name, n) counts[name] = (counts[name] or 0) + (n or 1) end
surge.error = function() end
surge.metric = function() end
local rtsp = require "surge.proto.rtsp"

local answer = fakeconn.rtsp_answer
local function frame(ch, seq)
  local p = string.char(0x80, 96, math.floor(seq / 256), seq % 256, 0, 0, 0, 0, 0, 0, 0, 1, 65)
  return "$" .. string.char(ch, 0, #p) .. p
end
local SDP = "v=0\r\ns=x\r\na=control:*\r\n" ..
  "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track0\r\n" ..
  "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n"

-- Two tracks whose first packets are 2 and 3 past RTP-Info's seq: a gap of
-- 5 when both entries are matched to their tracks.
local function gap(info)
  for k in pairs(counts) do counts[k] = nil end
  local c = fakeconn.new(answer(1, { "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN" }) ..
    answer(2, { "Content-Base: rtsp://127.0.0.1/cam/", "Content-Type: application/sdp" }, SDP) ..
    answer(3, { "Session: 1", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1" }) ..
    answer(4, { "Session: 1", "Transport: RTP/AVP/TCP;unicast;interleaved=2-3" }) ..
    answer(5, { "Session: 1", "RTP-Info: " .. info }) ..
    frame(0, 12) .. frame(2, 23) .. frame(0, 13) .. frame(2, 24))
  c.target = { url = "rtsp://127.0.0.1/cam" }
  local ok, err = pcall(rtsp.reader { watch = "1s" }.session, c)
  t.ok(ok and counts["rtsp.sessions"] == 1 and counts["rtsp.packets"] == 4,
    "the reader plays 4 packets (" .. tostring(err) .. ")")
  return counts["rtsp.first_seq_gap"] or 0
end

t.is(gap("url=rtsp://127.0.0.1/cam/track0;seq=10,url=rtsp://127.0.0.1/cam/track1;seq=20"), 5,
  "RTP-Info naming SETUP's URLs: gap 2 + 3")
t.is(gap("url=rtsp://127.0.0.1/cam//track0;seq=10,url=rtsp://127.0.0.1/cam//track1;seq=20"), 5,
  "the aggregate URL's slash doubled (cam//track0): the same tracks")
t.is(gap("url=rtsp://127.0.0.1/cam/track0/;seq=10,url=rtsp://127.0.0.1/cam/track1/;seq=20"), 5,
  "a slash at the end of each: the same tracks")
t.is(gap("url=track1;seq=20,url=track0;seq=10"), 5, "relative URLs, in another order")
t.is(gap("url=rtsp://127.0.0.1/cam//track1;seq=10,url=rtsp://127.0.0.1/cam//track0;seq=20"), 13,
  "each track takes its own entry: track1's first (23) is 13 past 10, track0's (12) behind 20")
t.done()
