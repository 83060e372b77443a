-- surge.rtsp.sdp: control URLs (RFC 2326 C.1.1), rtpmap, hostile SDP.
local t = require "tap"
local sdp = require "surge.rtsp.sdp"

-- What GStreamer's RTSP server sends (PEERS.md): session "*", track "stream=0".
local GST = table.concat({
  "v=0", "o=- 1188340656180883 1 IN IP4 127.0.0.1", "s=Session streamed with GStreamer",
  "i=rtsp-server", "t=0 0", "a=tool:GStreamer", "a=type:broadcast", "a=control:*",
  "a=range:npt=now-", "m=video 0 RTP/AVP 96", "c=IN IP4 0.0.0.0", "b=AS:500",
  "a=rtpmap:96 H264/90000",
  "a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHtkBQfsBEAAAAwAQAAADAyDxYuSA,aMuMsg==",
  "a=control:stream=0", "a=framerate:25", "",
}, "\r\n")

local base = sdp.base("rtsp://127.0.0.1:8554/test", { ["content-base"] = "rtsp://127.0.0.1:8554/test/" })
t.is(base, "rtsp://127.0.0.1:8554/test/", "Content-Base wins")
local s = sdp.parse(GST, base)
t.ok(s, "GStreamer's SDP parses")
t.is(s.url, "rtsp://127.0.0.1:8554/test/", "aggregate control '*' is the base")
t.is(#s.media, 1, "one media")
local m = s.media[1]
t.is(m.url, "rtsp://127.0.0.1:8554/test/stream=0", "track URL from the SDP, not guessed")
t.ok(m.type == "video" and m.pt == 96 and m.encoding == "H264" and m.clock_rate == 90000 and m.codec == "h264",
  "payload type, encoding, clock rate, codec")
t.ok(m.fmtp[96]:find("packetization%-mode=1"), "fmtp kept")

-- Base selection order (RFC 2326 C.1.1)
t.is(sdp.base("rtsp://h/a", { ["content-location"] = "rtsp://h/loc/" }), "rtsp://h/loc/", "Content-Location next")
t.is(sdp.base("rtsp://h/a", {}), "rtsp://h/a", "request URL last")

-- Resolution
local cases = {
  { "rtsp://h:554/live/", "track1", "rtsp://h:554/live/track1" },
  { "rtsp://h:554/live", "track1", "rtsp://h:554/live/track1" },
  { "rtsp://h:554/live/", "rtsp://other:8554/x/trackID=1", "rtsp://other:8554/x/trackID=1" },
  { "rtsp://h:554/live/", "/abs/track", "rtsp://h:554/abs/track" },
  { "rtsp://h:554/live/", "*", "rtsp://h:554/live/" },
  { "rtsp://h:554/live/", nil, "rtsp://h:554/live/" },
  { "rtsp://[::1]:8554/a/", "s=1", "rtsp://[::1]:8554/a/s=1" },
  { "rtsp://h/cam?token=1", "track2", "rtsp://h/cam/track2" },
  { "RTSP://h/x/", "RTSP://h/x/t", "RTSP://h/x/t" },
}
for _, c in ipairs(cases) do
  t.is(sdp.resolve(c[1], c[2]), c[3], ("resolve(%s, %s)"):format(c[1], tostring(c[2])))
end

-- Two media, static payload type, LF-only lines, absolute control
local two = "v=0\no=- 0 0 IN IP4 0.0.0.0\ns=x\nt=0 0\n" ..
  "m=video 0 RTP/AVP 97\na=rtpmap:97 H265/90000\na=control:rtsp://cam/v\n" ..
  "m=audio 0 RTP/AVP 0\na=control:trackID=2\n"
s = sdp.parse(two, "rtsp://cam/main/")
t.is(s and #s.media, 2, "two media")
t.ok(s.media[1].codec == "h265" and s.media[1].url == "rtsp://cam/v", "H.265 track with absolute control")
t.ok(s.media[2].encoding == "PCMU" and s.media[2].clock_rate == 8000, "static payload type 0 is PCMU/8000")
t.is(s.media[2].url, "rtsp://cam/main/trackID=2", "relative audio control")
t.is(s.url, "rtsp://cam/main/", "no session control: the base")

-- Hostile
t.is(select(2, sdp.parse("hello world", "rtsp://h/")), "bad sdp line", "not SDP")
t.is(select(2, sdp.parse("", "rtsp://h/")), "not an sdp (no v= line)", "empty body")
t.is(select(2, sdp.parse(nil, "rtsp://h/")), "no sdp", "no body")
t.is(select(2, sdp.parse("v=0\nm=video\n", "rtsp://h/")), "bad m= line", "truncated m= line")
t.is(select(2, sdp.parse("v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96\n", "rtsp://h/")), "bad rtpmap", "truncated rtpmap")
t.is(select(2, sdp.parse("v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/0\n", "rtsp://h/")),
  "bad clock rate", "clock rate 0: refused (jitter in seconds would be infinite)")
t.is(select(2, sdp.parse("v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/000\n", "rtsp://h/")),
  "bad clock rate", "clock rate 000: refused")
t.is(select(2, sdp.parse("v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/fast\n", "rtsp://h/")),
  "bad rtpmap", "clock rate not a number: refused")
t.is(select(2, sdp.parse("v=0\n" .. ("m=video 0 RTP/AVP 96\n"):rep(100), "rtsp://h/")),
  "too many media", "media count limit")
s = sdp.parse("v=0\nm=video 0 RTP/AVP 96\n", "rtsp://h/")
t.ok(s and s.media[1].clock_rate == nil and s.media[1].codec == nil, "dynamic type without rtpmap: unknown clock")
s = sdp.parse("v=0\nm=application 0 RTP/AVP x-y\n", "rtsp://h/")
t.ok(s and s.media[1].pt == nil, "non-numeric format")

t.done()
