-- RTSP readers: how many concurrent viewers does a stream hold?
--
-- Each connection is one viewer that does what a player does (RFC 2326):
-- OPTIONS, DESCRIBE (track URLs come from the SDP, never guessed), SETUP of
-- each track over interleaved TCP, PLAY, then reads RTP for `watch`, sends
-- keepalives from the same loop, and TEARDOWNs. The report shows each step's
-- latency (rtsp.options ... rtsp.play), time to first packet and first
-- keyframe, jitter per track, and counters: packets, bytes (bitrate = bytes
-- x 8 / seconds watched), lost, reordered, keyframes, RTCP, and
-- rtsp.status.<step>.<code> / rtsp.error.<step>.<class> for what failed.
--
-- Try it against the built-in source:
--   surge serve rtsp --listen 127.0.0.1:8554 --bitrate 100k &
--   surge run scenarios/rtsp-readers.lua
-- or against a camera or media server: --target rtsp://user:pass@host/path
-- (Basic and Digest authentication are answered from the URL's credentials).
local rtsp = require "surge.proto.rtsp"
local ramp = require "surge.ramp"

return {
  target = "rtsp://127.0.0.1:8554/live",
  protocol = rtsp.reader {
    transport = "tcp",   -- interleaved RTP/RTCP on the RTSP connection (RFC 2326 10.12)
    watch = "60s",       -- each viewer plays this long, then TEARDOWN and a new viewer
    keepalive = "20s",   -- GET_PARAMETER (or OPTIONS); capped at 0.8 x the Session timeout.
                         -- Leave it out to use half the server's Session timeout.
    tracks = "all",      -- or { "video" }, or { 1 } (media numbers in the SDP)
    range = false,       -- no Range on PLAY: some live servers hang on one (PEERS.md)
  },
  -- 2000 viewers arrive over 30 s, then stay for 60 s.
  connections = ramp.stages { { "30s", 0, 2000 }, { "60s", 2000 } },
  connect_rate = 200,    -- new viewers per second at most (also paces replacements)
  timeout = "5s",        -- a reader that receives nothing for this long is a timeout
}
