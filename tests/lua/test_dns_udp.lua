-- surge.proto.dns over UDP: the datagram is the message (no length prefix),
-- IDs matched per socket, TC counted as dns.tc, expired queries free their
-- ID (a late answer is unmatched), options refused with clear errors, and a
-- fuzz loop over the unprefixed parser.
local ffi = require "ffi"
local bit = require "bit"
local t = require "tap"

local counts = {}
package.loaded.surge = {
  declare = function() end,
  count = function(name, n) counts[name] = (counts[name] or 0) + (n or 1) end,
  metric = function() end,
  now_ns = function() return 1000 end,
  status = function(n) counts["status." .. n] = (counts["status." .. n] or 0) + 1 end,
}
local dns = require "surge.proto.dns"
pcall(ffi.cdef, [[
struct surge_ctx { uint32_t conn_id; uint32_t worker; uint64_t seq; uint64_t now_ns; void *user; };
]])

local char, byte, fmt = string.char, string.byte, string.format
local function u16(n) return char(bit.rshift(n, 8), bit.band(n, 255)) end
-- Calls fn as a scenario line would (not a tail call), so an error is
-- positioned at this file's line.
local function errs(fn, ...)
  local ok, e = pcall(function(...)
    local p = fn(...)
    return p
  end, ...)
  return not ok and tostring(e) or ""
end

-- ---- options ----
-- A bad option names the scenario's file:line (this file), dns.udp and the option.
local here = "test_dns_udp.lua:%d+: dns.udp: "
t.ok(errs(dns.udp, { queries = { "x A" }, tc = "drop" }):find(here .. "tc must be \"count\"[^\n]* or \"tcp\"[^\n]*not drop"),
  "tc other than count/tcp: file:line, option and what it may be")
for _, bad in ipairs { -1, 1.5, 256, "2" } do
  t.ok(errs(dns.udp, { queries = { "x A" }, retries = bad }):find(here .. "retries must be a whole number of resends from 0 to 255, not " .. tostring(bad):gsub("%p", "%%%0")),
    "retries = " .. tostring(bad) .. " refused")
end
for _, bad in ipairs { 0, -1, "soon", "0s" } do
  t.ok(errs(dns.udp, { queries = { "x A" }, retries = 1, retry_after = bad }):find(here .. "retry_after must be a duration above 0"),
    "retry_after = " .. tostring(bad) .. " refused")
end
t.ok(errs(dns.udp, { queries = { "x A" }, retry_after = "1s" }):find(here .. "retry_after needs retries"),
  "retry_after without retries refused")
local pr = dns.udp { queries = { "x A" }, retries = 2, retry_after = "300ms", tc = "tcp" }
t.ok(pr.retries == 2 and math.abs(pr.retry_after - 0.3) < 1e-12 and pr.tcp_fallback == true,
  "retries, retry_after (seconds) and tcp_fallback reach the protocol table")
local pc = dns.udp { queries = { "x A" } }
t.ok(pc.retries == nil and pc.retry_after == nil and pc.tcp_fallback == nil,
  "defaults: no retries, no TCP fallback")
t.ok(errs(dns.udp, { queries = { "x A" }, keepalive = true }):find("dns.udp: unknown option 'keepalive'", 1, true),
  "keepalive is TCP's (RFC 7828)")
t.ok(errs(dns.udp, { queries = { "x A" }, edns = 100 }):find("dns.udp: edns", 1, true),
  "edns below 512 refused, named dns.udp")
t.ok(errs(dns.tcp, { queries = { "x A" }, tc = "count" }):find("dns.tcp: unknown option 'tc'", 1, true),
  "tc is UDP's")
local p = dns.udp { queries = { "example.com A", { "www.example.com", "AAAA" } }, pipeline = 8,
  edns = 1232, retries = 0, tc = "count" }
t.ok(p.transport == "udp" and p.framing == nil and p.match == "key" and p.pipeline == 8
  and type(p.expired) == "function", "transport udp, no framing, matched by key, expired hook")

-- ---- requests: the query without a length prefix ----
local BUF = ffi.new("uint8_t[65536]")
local ctx = ffi.new("struct surge_ctx")
local function send(pp, conn, seq)
  ctx.conn_id, ctx.seq, ctx.now_ns = conn or 1, seq or 0, 500
  local len, key = pp.request(ctx, BUF, 65536)
  return len and ffi.string(BUF, len), key
end
local function recv(pp, msg, conn)
  ctx.conn_id = conn or 1
  local buf = ffi.new("uint8_t[?]", #msg + 1)
  ffi.copy(buf, msg, #msg)
  return pp.response(ctx, buf, #msg)
end
local framed = dns.encode_query("example.com", "A", { edns = 1232 })
local q_a = framed:sub(3) -- the UDP message is the TCP one without its prefix
local r1, k1 = send(p, 1, 0)
t.is(#r1, #q_a, "a UDP query is the message alone (" .. #q_a .. " bytes)")
t.is(r1:sub(3), q_a:sub(3), "same bytes as over TCP after the ID")
t.is(byte(r1, 1) * 256 + byte(r1, 2), k1, "the ID is the key, in the first two bytes")

-- ---- answers ----
local A_RR = "\192\12\0\1\0\1\0\0\14\16\0\4\198\18\0\1"
local OPT = "\0\0\41\4\208\0\0\0\0\0\0"
local function answer(q, o)
  o = o or {}
  local f1 = 0x80 + bit.band(byte(q, 3), 0x79) + (o.tc and 2 or 0)
  local an = o.answers or {}
  local question = q:sub(13, #q - #OPT)
  return q:sub(1, 2) .. char(f1, 0x80 + (o.rcode or 0)) .. u16(1) .. u16(#an) .. u16(0) ..
    u16(1) .. question .. table.concat(an) .. OPT
end
counts = {}
local got, err = recv(p, answer(r1, { answers = { A_RR } }))
t.ok(got == k1 and err == nil and counts["dns.rcode.NOERROR"] == 1, "an answer is matched by ID")
local r2, k2 = send(p, 1, 1)
got, err = recv(p, answer(r2, { tc = true }))
t.ok(got == k2 and err == nil and counts["dns.tc"] == 1 and counts["dns.truncated"] == nil,
  "a truncated answer completes and counts dns.tc")
got, err = recv(p, answer(r2, { answers = { A_RR } }))
t.is(err, "unmatched", "a second answer to the same query is unmatched")
-- each socket has its own IDs: the same ID in flight on two sockets
do
  local pp = dns.udp { queries = { "example.com A" }, ids = "sequential" }
  local qa, ka = send(pp, 1, 0)
  local qb, kb = send(pp, 2, 0)
  local ga = recv(pp, answer(qb, {}), 2)
  local _, eb = recv(pp, answer(qb, {}), 2)
  local gc = recv(pp, answer(qa, {}), 1)
  t.ok(ka == 0 and kb == 0 and ga == 0 and eb == "unmatched" and gc == 0,
    "sockets keep their own IDs: ID 0 on two sockets, each answered once")
end

-- ---- tc = "tcp": a TC answer asks for TCP and settles nothing ----
do
  local pt = dns.udp { queries = { "example.com A" }, tc = "tcp" }
  counts = {}
  local q, k = send(pt, 3, 0)
  local g, e, th = recv(pt, answer(q, { tc = true }), 3)
  t.ok(g == k and e == nil and th == "tcp" and counts["dns.tc"] == 1 and
    counts["dns.rcode.NOERROR"] == nil, "a TC answer returns key, nil, \"tcp\": dns.tc, no rcode")
  g, e, th = recv(pt, answer(q, { answers = { A_RR } }), 3)
  t.ok(g == k and e == nil and th == nil and counts["dns.rcode.NOERROR"] == 1 and
    counts["dns.answers.with_records"] == 1, "the TCP answer (same ID) settles it: rcode once")
  local _, e2 = recv(pt, answer(q, { answers = { A_RR } }), 3)
  t.is(e2, "unmatched", "and only once")
  q, k = send(pt, 3, 1)
  pt.expired(ctx, k)
  local _, e3 = recv(pt, answer(q, { answers = { A_RR } }), 3)
  t.is(e3, "unmatched", "a query that timed out while over TCP frees its ID")
end

-- ---- retries: a question mismatch is not this query's answer (RFC 5452 9.1) ----
do
  local pr2 = dns.udp { queries = { "example.com A", "www.example.com AAAA" }, retries = 1,
    ids = "sequential", pipeline = 1 }
  local qa = send(pr2, 4, 0)
  local qb, kb = select(1, send(pr2, 4, 1))
  -- an answer carrying qb's ID but qa's question: a late answer to an earlier query
  local wrong = qb:sub(1, 2) .. answer(qa, {}):sub(3)
  local g, e, late = recv(pr2, wrong, 4)
  t.ok(g == kb and e == "unmatched" and late == "late",
    "with retries a mismatched question is a late answer to its ID (the core decides) ...")
  g, e = recv(pr2, answer(qb, {}), 4)
  t.ok(g == kb and e == nil, "... and the query still waits for its own answer")
  local pn = dns.udp { queries = { "example.com A", "www.example.com AAAA" }, ids = "sequential",
    pipeline = 1 }
  qa = send(pn, 4, 0)
  qb, kb = send(pn, 4, 1)
  g, e = recv(pn, qb:sub(1, 2) .. answer(qa, {}):sub(3), 4)
  t.ok(g == kb and e == "question mismatch", "without retries it is a protocol error, as over TCP")
end

-- ---- expired: the ID is free again; a late answer is unmatched ----
do
  local pp = dns.udp { queries = { "example.com A" }, pipeline = 1, ids = "sequential" }
  local q0, id0 = send(pp, 5, 0)
  pp.expired(ctx, id0)
  local g, e = recv(pp, answer(q0, {}), 5)
  t.is(e, "unmatched", "an answer after the query expired is unmatched")
  local _, id1 = send(pp, 5, 1)
  t.ok(id1 ~= nil, "after expiry the slot serves again (pipeline 1, id " .. tostring(id1) .. ")")
  -- 100 lost queries in a row never exhaust the IDs
  local ok = true
  pp.expired(ctx, id1)
  for i = 2, 101 do
    local _, id = send(pp, 5, i)
    if not id then ok = false break end
    pp.expired(ctx, id)
  end
  t.ok(ok, "100 expired queries in a row leave no slot taken")
  pp.expired(ctx, 12345) -- an ID never sent: nothing happens
  t.ok(true, "expiring an unknown ID is harmless")
end

-- ---- malformed datagrams are counted, never raised ----
counts = {}
got, err = recv(p, "\1")
t.ok(got == nil and err == "malformed" and counts["dns.malformed"] == 1, "a 1-byte datagram")
got, err = recv(p, "")
t.ok(err == "malformed", "an empty datagram")
do
  local seed = 99
  local function rnd(n)
    seed = bit.bxor(seed, bit.lshift(seed, 13))
    seed = bit.bxor(seed, bit.rshift(seed, 17))
    seed = bit.bxor(seed, bit.lshift(seed, 5))
    return bit.band(seed, 0x7fffffff) % n
  end
  local pf = dns.udp { queries = { "example.com A" }, pipeline = 1 }
  local q, _ = send(pf, 9, 0)
  local base = answer(q, { answers = { A_RR, A_RR } })
  local qbuf = ffi.new("uint8_t[?]", 32)
  ffi.copy(qbuf, q:sub(13), 17)
  local buf = ffi.new("uint8_t[600]")
  local raised, verdicts = 0, {}
  for i = 1, 20000 do
    local len = #base
    ffi.copy(buf, base, len)
    for _ = 1, 1 + rnd(4) do
      local at = rnd(len)
      buf[at] = rnd(8) == 0 and 0xc0 + rnd(2) or rnd(256)
    end
    if rnd(3) == 0 then len = rnd(len + 1) end
    local ok, e = pcall(dns.parse, buf, len, qbuf, 17, 0)
    if not ok then raised = raised + 1 else verdicts[e or "good"] = (verdicts[e or "good"] or 0) + 1 end
    if i % 8 == 0 and not pcall(pf.response, ctx, buf, len) then raised = raised + 1 end
  end
  t.is(raised, 0, "20000 fuzzed datagrams parsed without raising")
  t.ok((verdicts.malformed or 0) > 100 and (verdicts.good or 0) > 100,
    fmt("fuzz reached both verdicts (good %d, malformed %d)", verdicts.good or 0, verdicts.malformed or 0))
  ffi.copy(buf, base, #base)
  t.is(dns.parse(buf, #base, qbuf, 17, 0), nil, "the unmutated answer parses (pre = 0)")
end

t.done()
