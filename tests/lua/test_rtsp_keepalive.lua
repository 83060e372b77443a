-- rtsp reader keepalives: within the server's Session timeout (RFC 2326
-- 12.37), never a flood when the server announces timeout=0.
local t = require "tap"
local rtsp = require "surge.proto.rtsp"

local ka, short = rtsp.keepalive_interval(nil, nil)
t.is(ka, 30, "no timeout announced: every 30 s (half of RFC 2326's default 60)")
t.ok(not short, "and nothing odd to count")
ka, short = rtsp.keepalive_interval(nil, 60)
t.is(ka, 30, "timeout=60: every 30 s")
ka = rtsp.keepalive_interval(nil, 10)
t.is(ka, 5, "timeout=10: every 5 s")
ka = rtsp.keepalive_interval(20, 10)
t.is(ka, 8, "a scenario's 20 s is cut to 0.8 of timeout=10")
ka = rtsp.keepalive_interval(2, 60)
t.is(ka, 2, "a scenario's own shorter interval is kept")
ka, short = rtsp.keepalive_interval(nil, 0)
t.is(ka, 0.5, "timeout=0: every 0.5 s, not thousands a second")
t.ok(short, "and the server's odd timeout is counted")
ka, short = rtsp.keepalive_interval(0, nil)
t.is(ka, 0.5, "keepalive = 0 in a scenario is clamped too")
t.ok(not short, "without blaming the server")
t.done()
