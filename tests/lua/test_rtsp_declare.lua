-- What the rtsp reader declares (what a threshold may name) is what it
-- counts: a misspelt counter (counter.rtsp.loss for rtsp.lost) is refused
-- with a did-you-mean, where "rtsp.*" took it and the threshold always
-- passed; and every name a session really counts or records is declared.
local t = require "tap"
local fakeconn = require "fakeconn"
local surge = require "surge"

-- Every name counted or recorded, seen before rtsp.lua caches surge's functions.
local counted, recorded = {}, {}
surge.count = function(name) counted[name] = true end
surge.metric = function(name) recorded[name] = true end
surge.error = function() end
local rtsp = require "surge.proto.rtsp"

local ok, hint = surge._is_declared("counter", "rtsp.loss")
t.ok(not ok and hint == "did you mean 'rtsp.lost'?", "rtsp.loss is refused: " .. tostring(hint))
ok, hint = surge._is_declared("counter", "rtsp.error.play.timout")
t.ok(not ok and hint == "did you mean 'rtsp.error.play.timeout'?", "a misspelt error class too: "
  .. tostring(hint))
t.ok(not surge._is_declared("counter", "rtsp.status.play.20") and
  not surge._is_declared("counter", "rtsp.status.paly.200"), "a status is a step and 3 digits")
t.ok(not surge._is_declared("counter", "rtsp.error.teardown.no_media"),
  "an error class no step of that name can meet is not declared")
ok, hint = surge._is_declared("histogram", "rtsp.first_pakcet")
t.ok(not ok and hint == "did you mean 'rtsp.first_packet'?", "histograms by name too: " .. tostring(hint))
ok, hint = surge._is_declared("counter", "rtsp.zzzzzzzzzzzz")
t.ok(not ok and #hint < 400 and hint:find("rtsp.{bytes, ", 1, true) and hint:find("error.{...}", 1, true),
  "a far miss lists the module's names, folded to fit the message: " .. tostring(hint))

for _, n in ipairs { "rtsp.packets", "rtsp.bytes", "rtsp.lost", "rtsp.reordered", "rtsp.duplicates",
  "rtsp.keyframes", "rtsp.rtcp", "rtsp.first_seq_gap", "rtsp.sessions", "rtsp.watched",
  "rtsp.stopped", "rtsp.unmatched", "rtsp.malformed_rtp", "rtsp.unknown_channel",
  "rtsp.server_request", "rtsp.server_timeout_too_short", "rtsp.status.setup.200",
  "rtsp.status.keepalive.454", "rtsp.error.setup.bad_transport", "rtsp.error.describe.no_media",
  "rtsp.error.options.no_cseq", "rtsp.error.play.timeout", "rtsp.error.describe.status" } do
  t.ok(surge._is_declared("counter", n), n .. " is declared")
end
for _, n in ipairs { "rtsp.options", "rtsp.describe", "rtsp.setup", "rtsp.play", "rtsp.teardown",
  "rtsp.keepalive", "rtsp.first_packet", "rtsp.first_keyframe", "rtsp.jitter" } do
  t.ok(surge._is_declared("histogram", n), n .. " is declared as a histogram")
end

-- Readers against canned answers: one that plays (RTP, RTCP, a stray
-- channel, a server's request) until the connection closes, and ones that
-- fail at each step; whatever they count is declared.
local function answer(cseq, headers, body, status)
  body = body or ""
  local h = { "RTSP/1.0 " .. (status or "200 OK"), "CSeq: " .. cseq }
  for _, x in ipairs(headers) do h[#h + 1] = x end
  h[#h + 1] = "Content-Length: " .. #body
  return table.concat(h, "\r\n") .. "\r\n\r\n" .. body
end
local function frame(ch, p) return "$" .. string.char(ch, math.floor(#p / 256), #p % 256) .. p end
local function rtp(seq, payload)
  return string.char(0x80, 96, math.floor(seq / 256), seq % 256, 0, 0, seq, 0, 0, 0, 0, 1) ..
    (payload or "\65")
end
local SDP = "v=0\r\ns=x\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" ..
  "a=control:track1\r\n"
local OPTIONS = answer(1, { "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN" })
local DESCRIBE = answer(2, { "Content-Base: rtsp://127.0.0.1/live/", "Content-Type: application/sdp" }, SDP)
local SETUP = answer(3, { "Session: 1;timeout=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1" })
local PLAY = answer(4, { "RTP-Info: url=rtsp://127.0.0.1/live/track1;seq=5" })
local streams = {
  OPTIONS .. DESCRIBE .. SETUP .. PLAY .. frame(0, rtp(7, "\101")) .. frame(0, rtp(9)) ..
    frame(0, rtp(8)) .. frame(0, rtp(8)) .. frame(0, "x") .. frame(1, "rtcp") .. frame(9, "?") ..
    "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n" .. answer(1, {}),
  OPTIONS .. answer(2, {}, nil, "404 Not Found"),
  OPTIONS .. answer(2, { "Content-Type: application/sdp" }, "s=x\r\n"),
  OPTIONS .. DESCRIBE .. answer(3, {}),
  OPTIONS .. DESCRIBE .. SETUP .. "garbage\r\n\r\n",
  "RTSP/1.0 200 OK\r\n\r\n",
}
for i, s in ipairs(streams) do
  local c = fakeconn.new(s)
  c.target = { url = "rtsp://127.0.0.1/live" }
  local okr, err = pcall(rtsp.reader { watch = "1s" }.session, c)
  t.ok(okr, "reader " .. i .. " returns (" .. tostring(err) .. ")")
end
local n = 0
for name in pairs(counted) do
  n = n + 1
  t.ok(surge._is_declared("counter", name), "counted " .. name .. " is declared")
end
t.ok(n >= 20 and counted["rtsp.first_seq_gap"] and counted["rtsp.error.describe.not_an_sdp_no_v_line"],
  n .. " names counted, the paths above reached")
for name in pairs(recorded) do
  t.ok(surge._is_declared("histogram", name), "recorded " .. name .. " is declared")
end

-- A connection ended by a class the engine counts itself, at its close,
-- is not a protocol error as well: each failure counted once.
local errors
surge.error = function(cls) errors[#errors + 1] = cls end
for _, e in ipairs { "reset", "refused", "address", "error", "unreachable", "tls handshake",
  "tls verify" } do
  errors = {}
  local c = fakeconn.new(OPTIONS, e)
  c.target = { url = "rtsp://127.0.0.1/live" }
  pcall(rtsp.reader { watch = "1s" }.session, c)
  t.ok(#errors == 0 and counted["rtsp.error.describe." .. e:gsub(" ", "_")],
    "a connection ended by " .. e .. ": counted under describe, no protocol error too ("
    .. table.concat(errors, ",") .. ")")
end
t.done()
