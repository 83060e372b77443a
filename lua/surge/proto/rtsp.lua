-- RTSP readers (RFC 2326): each connection is one viewer that plays the
-- target's stream over interleaved RTP/TCP and measures what it receives.
--
--   OPTIONS -> DESCRIBE (SDP: control URLs, payload types, clock rates)
--   -> SETUP each chosen media (RTP/AVP/TCP;unicast;interleaved=2k-2k+1)
--   -> PLAY -> read $-framed packets, answering keepalives in the same loop
--   -> TEARDOWN when the watch time is over.
--
-- One coroutine does everything in order, so a keepalive never races the
-- reader: it is sent between two frames, and its answer is read as one more
-- message among the frames (RFC 2326 10.12: responses may be interleaved).
--
-- Metrics (ns): rtsp.options, rtsp.describe, rtsp.setup, rtsp.play,
-- rtsp.teardown, rtsp.keepalive (each request to its 2xx answer);
-- rtsp.first_packet, rtsp.first_keyframe (from the session's start, i.e.
-- once TCP is connected; the engine's connect row covers the connect);
-- rtsp.jitter (each track's RFC 3550 interarrival jitter at its end).
-- Counters: rtsp.packets, rtsp.bytes (RTP bytes: bitrate = bytes * 8 / watch),
-- rtsp.lost, rtsp.reordered, rtsp.duplicates, rtsp.keyframes, rtsp.rtcp,
-- rtsp.first_seq_gap (first packets past RTP-Info's seq), rtsp.sessions (reached PLAY), rtsp.watched (watched to the end),
-- rtsp.status.<step>.<code>, rtsp.error.<step>.<class>, rtsp.stopped.
local ffi = require "ffi"
local surge = require "surge"
local units = require "surge.units"
local response = require "surge.rtsp.response"
local sdp = require "surge.rtsp.sdp"
local rtp = require "surge.rtsp.rtp"
local auth = require "surge.rtsp.auth"
local target = require "surge.target"
local keys = require "surge.keys"

local now_ns, count, metric = surge.now_ns, surge.count, surge.metric
local concat, format, match, gsub, lower, sub = table.concat, string.format, string.match,
  string.gsub, string.lower, string.sub
local min, max, huge = math.min, math.max, math.huge
local tonumber, ipairs, pairs, type = tonumber, ipairs, pairs, type
local co_create, co_resume, co_yield, co_status, co_running = coroutine.create,
  coroutine.resume, coroutine.yield, coroutine.status, coroutine.running

local M = {}

-- What this module counts and records, by name, so a threshold may name
-- any of them and a misspelt one (counter.rtsp.loss) stops the run before
-- traffic with a did-you-mean: "rtsp.*" took every name, and a threshold on
-- a counter that can never count passed. Kept in step with the count() and
-- metric() calls below (tests/lua/test_rtsp_declare.lua checks a session's).
local STEPS = { "options", "describe", "setup", "play", "teardown", "keepalive" }
for _, n in ipairs { "packets", "bytes", "lost", "reordered", "duplicates", "keyframes",
  "malformed_rtp", "first_seq_gap", "rtcp", "unknown_channel", "unmatched", "server_request",
  "server_timeout_too_short", "sessions", "watched", "stopped" } do
  surge.declare("counter", "rtsp." .. n)
end
for _, n in ipairs { "first_packet", "first_keyframe", "jitter" } do
  surge.declare("histogram", "rtsp." .. n)
end
-- rtsp.error.<step>.<class>: what fail() is handed, made counter_safe. A
-- connection's own (runtime.lua's close names) and a response's
-- (response.lua) can end any step that waits for an answer; a request that
-- finds its connection gone fails with the connection's.
local CONN_ERRORS = { "closed", "timeout", "reset", "refused", "address", "protocol", "script",
  "error", "tls_handshake", "tls_verify", "unreachable" }
local ANSWER_ERRORS = { "too_long", "malformed", "bad_status_line", "bad_header",
  "too_many_headers", "bad_content_length", "bad_cseq", "no_cseq", "unsent_cseq", "auth" }
local STEP_ERRORS = {
  options = {},
  describe = { "status", "no_media", "no_sdp", "bad_sdp_line", "too_many_media", "bad_m_line",
    "bad_rtpmap", "bad_clock_rate", "not_an_sdp_no_v_line" }, -- sdp.lua
  setup = { "status", "no_session", "bad_transport" },
  play = { "status" },
  teardown = { "status" },
}
-- A keepalive fails alone only when its answer is overdue (anything else
-- while watching ends the play step).
surge.declare("counter", "rtsp.error.keepalive.timeout")
for _, step in ipairs(STEPS) do
  surge.declare("counter", "rtsp.status." .. step .. ".###") -- RFC 2326 7.1.1: 3 digits
  surge.declare("histogram", "rtsp." .. step)
  if STEP_ERRORS[step] then
    for _, list in ipairs { CONN_ERRORS, ANSWER_ERRORS, STEP_ERRORS[step] } do
      for _, cls in ipairs(list) do surge.declare("counter", "rtsp.error." .. step .. "." .. cls) end
    end
  end
end

local DOLLAR = 36 -- RFC 2326 10.12: '$', channel, 16-bit length, data

-- A reader's memory is what limits how many one machine holds (100k here),
-- so its state is small: the numbers in one FFI struct (a Lua table costs
-- 24 bytes a field, this 8), the references in a table of at most 8 fields
-- (conn, v, pending, url, ctl_url, session_id, tracks, auth), each track an
-- FFI struct (rtp.track). The SDP, OPTIONS' method list and every response
-- are dropped once SETUP and PLAY have taken what they need from them.
local reader_t = ffi.typeof [[
struct {
  double cseq, t0, last_rx, stall_ns, keepalive_ns, watch_end, keepalive_at, flush_at, answer_by;
  double rtcp, rtcp_reported, unknown_channel;
  bool playing, first_packet, first_keyframe, keepalive_options;
}
]]

-- Where a failure lands in the report's error classes. The engine already
-- counts what it sees itself (reset, refused); "stopped" is surge ending
-- the run, which is no fault.
local ERROR_CLASS = {
  closed = "unexpected_close", timeout = "request_timeout",
}

-- "not an sdp (no v= line)" -> not_an_sdp_no_v_line (no trailing _).
local function counter_safe(s)
  return (gsub(gsub(lower(tostring(s)), "[^%w_]+", "_"), "_+$", ""))
end

-- Seconds between keepalives. RFC 2326 12.37: the session dies after the
-- server's `timeout` seconds of silence (default 60), so every 0.8 of it, or
-- the scenario's own interval if shorter. A server that says less than
-- KEEPALIVE_MIN_S / 0.8 (timeout=0) would have each reader send thousands a
-- second: the second result says so, and keepalives go no faster than one
-- per KEEPALIVE_MIN_S.
local KEEPALIVE_MIN_S = 0.5

function M.keepalive_interval(configured, server_timeout)
  local ka = configured or (server_timeout or 60) / 2
  if server_timeout then ka = min(ka, server_timeout * 0.8) end
  return math.max(ka, KEEPALIVE_MIN_S), server_timeout ~= nil and server_timeout * 0.8 < KEEPALIVE_MIN_S
end

-- Connection errors (runtime.lua's close names) the engine counted in their
-- own class as it closed the connection: not a protocol error as well.
local ENGINE_COUNTED = { reset = true, refused = true, address = true, error = true,
  unreachable = true, ["tls handshake"] = true, ["tls verify"] = true }

local function fail(st, step, err)
  if err == "stopped" then
    count("rtsp.stopped")
    return nil, err
  end
  local cls = ERROR_CLASS[err]
  if cls then
    surge.error(cls)
  elseif not ENGINE_COUNTED[err] then
    surge.error("protocol") -- malformed, bad status line, status, no media ...
  end
  count("rtsp.error." .. step .. "." .. counter_safe(err))
  return nil, err
end

-- ---- requests and the one loop that reads everything ----

local function send_request(st, method, url, step, headers)
  local v = st.v
  v.cseq = v.cseq + 1
  local cseq = v.cseq
  local lines = { method .. " " .. url .. " RTSP/1.0", "CSeq: " .. cseq, "User-Agent: surge" }
  if st.session_id then lines[#lines + 1] = "Session: " .. st.session_id end
  local a = st.auth
  if a and a.challenge then
    lines[#lines + 1] = "Authorization: " ..
      auth.authorization(a.challenge, a.user, a.password, method, url, a.state)
  end
  if headers then
    for _, h in ipairs(headers) do lines[#lines + 1] = h end
  end
  lines[#lines + 1] = "\r\n"
  local t = now_ns()
  st.pending[cseq] = { step = step, t0 = t }
  -- Requests go in order with one timeout, so the oldest unanswered one
  -- falls due first: answer_by is its deadline.
  v.answer_by = min(v.answer_by, t + v.stall_ns)
  st.conn:set_timeout(v.stall_ns / 1e9)
  local ok, err = st.conn:send(concat(lines, "\r\n"))
  if not ok then return nil, err end
  return cseq
end

-- Per-track counters go out as deltas once a second and at the end:
-- cheaper than a C call per packet, and loss that a late packet undoes
-- within the second is never reported at all.
local function flush(st)
  for _, tr in ipairs(st.tracks) do
    local rep = tr.reported
    local lost, received = rtp.lost(tr), rtp.received(tr)
    if received ~= rep.received then count("rtsp.packets", received - rep.received) end
    if tr.bytes ~= rep.bytes then count("rtsp.bytes", tr.bytes - rep.bytes) end
    if lost ~= rep.lost then count("rtsp.lost", lost - rep.lost) end
    if tr.reordered ~= rep.reordered then count("rtsp.reordered", tr.reordered - rep.reordered) end
    if tr.duplicates ~= rep.duplicates then count("rtsp.duplicates", tr.duplicates - rep.duplicates) end
    if tr.keyframes ~= rep.keyframes then count("rtsp.keyframes", tr.keyframes - rep.keyframes) end
    if tr.bad ~= rep.bad then count("rtsp.malformed_rtp", tr.bad - rep.bad) end
    if tr.first_gap > 0 then
      count("rtsp.first_seq_gap", tr.first_gap)
      tr.first_gap = 0 -- set once, by the track's first packet
    end
    rep.received, rep.bytes, rep.lost, rep.reordered = received, tr.bytes, lost, tr.reordered
    rep.duplicates, rep.keyframes, rep.bad = tr.duplicates, tr.keyframes, tr.bad
  end
  local v = st.v
  if v.rtcp ~= v.rtcp_reported then
    count("rtsp.rtcp", v.rtcp - v.rtcp_reported)
    v.rtcp_reported = v.rtcp
  end
  if v.unknown_channel > 0 then
    count("rtsp.unknown_channel", v.unknown_channel)
    v.unknown_channel = 0
  end
end

-- One interleaved frame (RFC 2326 10.12), received at t. p points at its
-- data. A reader has a track or two: a scan beats a table keyed by channel.
local function on_frame(st, v, ch, p, len, t)
  local tracks = st.tracks
  for i = 1, #tracks do
    local tr = tracks[i]
    if tr.channel == ch then
      if not v.first_packet then
        v.first_packet = true
        metric("rtsp.first_packet", t - v.t0)
      end
      if rtp.packet(tr, p, len, t * tr.units_per_ns) == 1 and not v.first_keyframe then
        v.first_keyframe = true
        metric("rtsp.first_keyframe", t - v.t0)
      end
      return
    elseif tr.rtcp_channel == ch then
      v.rtcp = v.rtcp + 1
      return
    end
  end
  v.unknown_channel = v.unknown_channel + 1
end

-- The deadline of the oldest request still unanswered (huge: none), and
-- its step. A reader has one or two waiting at most.
local function oldest(st)
  local by, step = huge, nil
  for _, pend in pairs(st.pending) do
    local t = pend.t0 + st.v.stall_ns
    if t < by then by, step = t, pend.step end
  end
  return by, step
end

-- pump's failure when a request's answer is overdue: the request's step.
local function overdue(st)
  local _, step = oldest(st)
  return nil, "timeout", step
end

local function on_response(st, msg)
  local pend = msg.cseq and st.pending[msg.cseq]
  if not pend then
    count("rtsp.unmatched")
    return
  end
  st.pending[msg.cseq] = nil
  st.v.answer_by = oldest(st)
  count("rtsp.status." .. pend.step .. "." .. msg.status)
  if msg.status >= 200 and msg.status < 300 then
    metric("rtsp." .. pend.step, now_ns() - pend.t0)
  end
end

-- RFC 2326 10: a server may send requests too (OPTIONS as a ping, ...).
local function on_server_request(st, msg)
  count("rtsp.server_request")
  local ok = msg.method == "OPTIONS" or msg.method == "GET_PARAMETER"
  local reply = format("RTSP/1.0 %s\r\nCSeq: %s\r\n\r\n", ok and "200 OK" or "501 Not Implemented",
    msg.cseq or 0)
  return st.conn:send(reply)
end

local function send_keepalive(st)
  if st.v.keepalive_options then return send_request(st, "OPTIONS", st.url, "keepalive") end
  return send_request(st, "GET_PARAMETER", st.ctl_url, "keepalive")
end

-- Waits for `need` bytes. Returns true when they are there, false when a
-- deadline (a request's answer, keepalive, end of watch, flush) fell due
-- first, or nil, err.
local function wait_bytes(st, need, want)
  local v = st.v
  local t = now_ns()
  local until_ns = min(v.last_rx + v.stall_ns, v.answer_by)
  if v.playing then
    until_ns = min(until_ns, v.keepalive_at, v.flush_at, want and huge or v.watch_end)
  end
  st.conn:set_timeout(max((until_ns - t) / 1e9, 0.001))
  local p, err = st.conn:fill(need)
  if p then
    v.last_rx = now_ns()
    return true
  end
  if err == "timeout" then
    if now_ns() - v.last_rx >= v.stall_ns then return nil, "timeout" end
    return false
  end
  return nil, err
end

-- Reads frames and messages until the response to `want` (a CSeq) arrives,
-- or, with want nil, until the watch time is over. Returns the response,
-- true (watched), or nil, err and, when a request went unanswered past its
-- timeout, that request's step. Every request has its own deadline
-- (answer_by): interleaved RTP keeps the connection busy, and a server
-- that streams but never answers PLAY (or a keepalive) would otherwise be
-- waited for as long as packets come.
local function pump(st, want)
  local conn, v = st.conn, st.v
  while true do
    local t = now_ns()
    if v.playing then
      if t >= v.flush_at then
        flush(st)
        v.flush_at = t + 1e9
      end
      if not want and t >= v.watch_end then return true end
      if t >= v.keepalive_at then
        v.keepalive_at = t + v.keepalive_ns
        local ok, err = send_keepalive(st)
        if not ok then return nil, err end
      end
    end
    -- A packet arrived when the kernel received the read that completed
    -- it (every frame buffered came with the latest read or before), not
    -- when this loop came round to it: a busy worker's lateness is no
    -- jitter of the stream's (RFC 3550 A.8 wants arrival times). Where the
    -- engine has no stamp, now. (Never before the session began: bytes a
    -- server sent before it, in a connect phase, came no earlier for it.)
    local arrival = max(min(conn:rx_ns() or t, t), v.t0)
    local p, avail = conn:buffered()
    local off = 0
    while avail - off >= 4 and p[off] == DOLLAR do
      local len = p[off + 2] * 256 + p[off + 3]
      if avail - off < 4 + len then break end
      on_frame(st, v, p[off + 1], p + off + 4, len, arrival)
      off = off + 4 + len
    end
    if off > 0 then
      conn:consume(off)
      v.last_rx = t
    elseif avail == 0 then
      -- Overdue is judged only with nothing whole left to read: an answer
      -- that came in time is not failed because the loop was late to it.
      if t >= v.answer_by then return overdue(st) end
      local ok, err = wait_bytes(st, 1, want)
      if ok == nil then return nil, err end
    elseif p[0] == DOLLAR then
      if t >= v.answer_by then return overdue(st) end
      local ok, err = wait_bytes(st, avail >= 4 and 4 + p[2] * 256 + p[3] or 4, want)
      if ok == nil then return nil, err end
    elseif p[0] >= 65 and p[0] <= 90 then
      -- "RTSP/1.0 ..." or a request line: an upper-case letter starts both
      conn:set_timeout(max(min(v.stall_ns, v.answer_by - t) / 1e9, 0.001))
      local msg, err = response.read(conn)
      if not msg then
        if err == "timeout" and now_ns() >= v.answer_by then return overdue(st) end
        return nil, err
      end
      v.last_rx = now_ns()
      if msg.status then
        on_response(st, msg)
        if want and msg.cseq == want then return msg end
        -- RFC 2326 12.17: every response carries its request's CSeq. One
        -- without, or with one never sent, cannot be the awaited answer's
        -- late twin: the step fails now as the protocol error it is, not
        -- at its timeout. (An earlier request's number is a stale answer,
        -- counted rtsp.unmatched, and waiting goes on.)
        if want and not msg.cseq then return nil, "no_cseq" end
        if want and msg.cseq > v.cseq then return nil, "unsent_cseq" end
      else
        local ok, serr = on_server_request(st, msg)
        if not ok then return nil, serr end
      end
    else
      -- Neither '$' nor a message: the stream's framing is lost and
      -- nothing after this point can be trusted.
      return nil, "malformed"
    end
  end
end

-- Sends a request and reads its answer; answers one 401 with credentials
-- (RFC 2326 D.1; RFC 2617). Returns the response or nil, err.
local function exchange(st, method, url, step, headers)
  for attempt = 1, 2 do
    local cseq, err = send_request(st, method, url, step, headers)
    if not cseq then return fail(st, step, err) end
    local msg, perr, pstep = pump(st, cseq)
    if not msg then return fail(st, pstep or step, perr) end
    if msg.status ~= 401 or attempt == 2 or not st.auth then return msg end
    local c = auth.choose(msg.challenges)
    if not c then return fail(st, step, "auth") end
    st.auth.challenge, st.auth.state = c, {}
  end
end

local function ok_status(st, step, msg)
  if msg.status >= 200 and msg.status < 300 then return msg end
  return fail(st, step, msg.status == 401 and "auth" or "status")
end

-- ---- the session ----

local function selected(cfg, m, i)
  if cfg.tracks == "all" then return true end
  for _, want in ipairs(cfg.tracks) do
    if want == i or want == m.type then return true end
  end
  return false
end

local function finish(st)
  flush(st)
  for _, tr in ipairs(st.tracks) do
    if tr.received >= 2 then metric("rtsp.jitter", tr.jitter / tr.clock_rate * 1e9) end
  end
end

-- A URL as same_track compares it: the path's empty segments dropped and
-- no slash at its end. RFC 2326 C.1.1 resolves a control against a
-- Content-Base that ends in "/" ("rtsp://h/cam/" + "track0"), and servers
-- that build RTP-Info from the aggregate URL the same way write
-- "rtsp://h/cam//track0"; either is the track SETUP named.
local function url_key(u)
  local origin, path = match(u, "^(%a[%w+.-]*://[^/]*)(.*)$")
  if not origin then origin, path = "", u end
  return origin .. gsub(gsub(path, "//+", "/"), "/$", "")
end

-- Whether RTP-Info's url names the track SETUP used: the same URL, or one
-- a path-suffix of the other (servers give either form).
local function same_track(info, setup)
  if info == setup then return true end
  local short, long = url_key(info), url_key(setup)
  if short == long then return true end
  if #short > #long then short, long = long, short end
  return #short > 0 and sub(long, -#short - 1) == "/" .. short
end

-- PLAY's RTP-Info says each track's first sequence number: how far past it
-- a track's first packet is, is rtsp.first_seq_gap (rtp.expect). A lone
-- track takes a lone entry whatever its URL looks like.
local function expect_first(tracks, urls, info)
  for k, tr in ipairs(tracks) do
    for _, e in ipairs(info) do
      if e.seq and (same_track(e.url, urls[k]) or #tracks == 1 and #info == 1) then
        rtp.expect(tr, e.seq)
        break
      end
    end
  end
end

-- interleaved(transport, k) -> RTP and RTCP channels of the k-th track set
-- up (from 0), or nil, "bad transport". The server may choose other
-- channels than the 2k-2k+1 asked (RFC 2326 12.39): its answer rules. A
-- channel is one octet of the '$' frame (10.12): a number above 255 names
-- no channel a frame can carry (stored, it would wrap onto another track's).
-- One channel alone takes the next for RTCP, none after 255.
function M.interleaved(transport, k)
  local a, b = match(transport or "", "interleaved=(%d+)%-?(%d*)")
  a, b = tonumber(a) or 2 * k, tonumber(b)
  if a > 255 or b and b > 255 then return nil, "bad transport" end
  return a, b or (a < 255 and a + 1 or -1)
end

-- OPTIONS, DESCRIBE, SETUP of each chosen media, PLAY. Returns true once
-- playing. What the answers said lives on only in st (the control URL, the
-- session, the tracks): returning drops the SDP and the responses.
local function start(st, cfg)
  local v = st.v
  local msg = exchange(st, "OPTIONS", st.url, "options")
  if not msg then return end
  -- OPTIONS is a courtesy (RFC 2326 10.1): a refusal is counted, not fatal.
  -- GET_PARAMETER keeps the session alive where offered, else OPTIONS.
  v.keepalive_options = not response.methods(msg.headers.public).GET_PARAMETER

  msg = exchange(st, "DESCRIBE", st.url, "describe", { "Accept: application/sdp" })
  if not msg or not ok_status(st, "describe", msg) then return end
  local desc, err = sdp.parse(msg.body, sdp.base(st.url, msg.headers))
  if not desc then return fail(st, "describe", err) end
  st.ctl_url = desc.url

  local k, server_timeout, urls = 0, nil, {}
  for i, m in ipairs(desc.media) do
    if selected(cfg, m, i) then
      -- RFC 2326 12.39: interleaved channels 2k (RTP) and 2k+1 (RTCP)
      local transport = format("Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d", 2 * k, 2 * k + 1)
      msg = exchange(st, "SETUP", m.url, "setup", { transport })
      if not msg or not ok_status(st, "setup", msg) then return end
      local id, timeout = response.session(msg.headers.session)
      if not id then return fail(st, "setup", "no session") end
      st.session_id, server_timeout = id, timeout or server_timeout
      local a, b = M.interleaved(msg.headers.transport, k)
      if not a then return fail(st, "setup", b) end
      local tr = rtp.track(m.codec, m.clock_rate or 90000, m.pt)
      tr.channel, tr.rtcp_channel = a, b
      st.tracks[#st.tracks + 1] = tr
      k = k + 1
      urls[k] = m.url
    end
  end
  if k == 0 then return fail(st, "describe", "no media") end

  local ka, too_short = M.keepalive_interval(cfg.keepalive, server_timeout)
  if too_short then count("rtsp.server_timeout_too_short") end
  v.keepalive_ns = ka * 1e9

  local headers
  if cfg.range then headers = { "Range: " .. (type(cfg.range) == "string" and cfg.range or "npt=0.000-") } end
  msg = exchange(st, "PLAY", st.ctl_url, "play", headers)
  if not msg or not ok_status(st, "play", msg) then return end
  expect_first(st.tracks, urls, response.rtp_info(msg.headers["rtp-info"]))
  count("rtsp.sessions")
  return true
end

-- Runs fn(...) in a coroutine of its own inside the session's, handing the
-- engine's wake-ups through. Why: a coroutine's stack grows to its deepest
-- call and stays (LuaJIT halves it only when a quarter is in use), and
-- setup is deep (response and SDP parsing) while watching is shallow; run
-- apart, setup's stack is garbage once PLAY is answered and a watching
-- reader keeps only a small one.
local function apart(fn, ...)
  local co = co_create(fn)
  local ok, r = co_resume(co, ...)
  while true do
    if not ok then error(debug.traceback(co, tostring(r)), 0) end
    if co_status(co) == "dead" then
      if surge._failed[co] then surge._failed[co_running()] = true end
      return r
    end
    ok, r = co_resume(co, co_yield())
  end
end

-- Setting a reader up makes ~7 KB of garbage (requests, responses, the SDP)
-- for ~2 KB it keeps. LuaJIT lets garbage reach what is alive before it
-- starts collecting (pause 200%), so thousands of readers connecting at
-- once left the heap 2-4 times what they keep, and the worker's memory
-- stays where the heap peaked. Each setup pays for its garbage with a step
-- of the collector as if SETUP_GC_KB had been allocated, so cycles keep
-- pace with the setups (a model of 2000 setups: peak 1.9x -> 1.2x what is
-- alive; in a worker, 2000 readers cost 7.2-7.8 KiB each with it, 7.8-9.5
-- without, on a busy machine).
local SETUP_GC_KB = 16

local function play(st, cfg)
  if not apart(start, st, cfg) then return end
  collectgarbage("step", SETUP_GC_KB)
  local v = st.v
  local t = now_ns()
  v.playing = true
  v.watch_end = t + cfg.watch * 1e9
  v.keepalive_at = t + v.keepalive_ns
  v.flush_at = t + 1e9
  local done, perr, pstep = pump(st, nil)
  if not done then return fail(st, pstep or "play", perr) end
  count("rtsp.watched")

  v.playing = false
  local msg = exchange(st, "TEARDOWN", st.ctl_url, "teardown")
  if msg then ok_status(st, "teardown", msg) end
end

-- The userinfo ends at the authority's last '@' (RFC 3986 3.2), as
-- target.lua reads it for the connection: "rtsp://alice:p@ss@cam/" logs in
-- as alice with "p@ss" and asks for rtsp://cam/.
local function strip_credentials(url)
  return (gsub(url, "^(%a[%w+.-]*://)[^/?#]*@", "%1"))
end

local function url_credentials(url)
  local t = target.parse(url)
  if not t or not t.user then return nil end
  return t.user, t.password or ""
end

local function session(conn, cfg)
  local url = cfg.url or conn.target.url
  local user, password = url_credentials(url)
  user, password = cfg.user or user, cfg.password or password
  local t0 = now_ns()
  local st = {
    conn = conn, pending = {}, url = strip_credentials(url), tracks = {},
    v = reader_t { t0 = t0, last_rx = t0, stall_ns = (cfg.timeout or conn.timeout or 5) * 1e9,
      answer_by = huge },
    ctl_url = false, session_id = false,
    auth = user and { user = user, password = password } or false,
  }
  play(st, cfg)
  finish(st)
end

-- reader { transport = "tcp", watch = "60s", keepalive = "20s" | nil,
--          tracks = "all" | { 1, "video", ... }, range = false | true | "npt=...",
--          timeout = "5s" (each request's answer, and silence, may last this
--          long; default: the scenario's timeout), url = (default: the
--          target), user =, password = }
local OPTS = { transport = true, watch = true, keepalive = true, tracks = true, range = true,
  timeout = true, url = true, user = true, password = true }

function M.reader(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("rtsp.reader: expects a table of options like { watch = \"60s\" }", 2)
  end
  -- A misspelt option would silently run with the default (wach = "1s": a 60 s watch).
  local bad, hint = keys.unknown(opts, OPTS)
  if bad then error("rtsp.reader: no option '" .. bad .. "' (" .. hint .. ")", 2) end
  local cfg = { tracks = "all", range = false }
  local transport = opts.transport or "tcp"
  if transport ~= "tcp" then
    error("rtsp.reader: transport must be \"tcp\" (interleaved RTP over the RTSP connection)", 2)
  end
  local watch, err = units.duration(opts.watch or "60s")
  if not watch or watch <= 0 then error("rtsp.reader: watch: " .. (err or "must be > 0"), 2) end
  cfg.watch = watch
  if opts.keepalive ~= nil then
    local ka, kerr = units.duration(opts.keepalive)
    if not ka or ka <= 0 then error("rtsp.reader: keepalive: " .. (kerr or "must be > 0"), 2) end
    cfg.keepalive = ka
  end
  if opts.timeout ~= nil then
    local to, terr = units.duration(opts.timeout)
    if not to or to <= 0 then error("rtsp.reader: timeout: " .. (terr or "must be > 0"), 2) end
    cfg.timeout = to
  end
  if opts.tracks ~= nil and opts.tracks ~= "all" then
    if type(opts.tracks) ~= "table" or #opts.tracks == 0 then
      error("rtsp.reader: tracks must be \"all\" or a list of media numbers or types, e.g. { 1 } or { \"video\" }", 2)
    end
    cfg.tracks = opts.tracks
  end
  if opts.range ~= nil and opts.range ~= false then
    if opts.range ~= true and type(opts.range) ~= "string" then
      error("rtsp.reader: range must be false, true (npt=0.000-) or a Range value", 2)
    end
    cfg.range = opts.range
  end
  if opts.url ~= nil and type(opts.url) ~= "string" then error("rtsp.reader: url must be a string", 2) end
  cfg.url, cfg.user, cfg.password = opts.url, opts.user, opts.password
  return {
    name = "rtsp",
    shape = "session",
    session = function(conn) return session(conn, cfg) end,
  }
end

M.new = M.reader
return M
