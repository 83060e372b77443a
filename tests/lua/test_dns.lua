-- surge.proto.dns: query encoding against hand-built wire bytes, the query
-- file, ID allocation, and response parsing on valid, truncated and hostile
-- input (a bounded fuzz loop with a fixed seed).
local ffi = require "ffi"
local bit = require "bit"
local t = require "tap"

local counts, metrics = {}, {}
package.loaded.surge = {
  declare = function() end,
  count = function(name, n) counts[name] = (counts[name] or 0) + (n or 1) end,
  metric = function(name, ns) metrics[name] = (metrics[name] or 0) + 1 end,
  now_ns = function() return 1000 end,
  status = function(n) counts["status." .. n] = (counts["status." .. n] or 0) + 1 end,
  worker_slot = function() return SLOT or 0, SLOTS or 1 end,
}
local dns = require "surge.proto.dns"

if arg and arg[1] == "--alloc-probe" then
  -- Request + answer in a loop, as the engine drives them, with the GC
  -- stopped: after warm-up the heap must not grow.
  pcall(ffi.cdef, [[
struct surge_ctx { uint32_t conn_id; uint32_t worker; uint64_t seq; uint64_t now_ns; void *user; };
]])
  local traces = 0
  if jit and jit.status() then
    jit.attach(function(what) if what == "stop" then traces = traces + 1 end end, "trace")
  end
  local ctx, buf = ffi.new("struct surge_ctx"), ffi.new("uint8_t[65536]")
  local ph = dns.tcp { queries = { "example.com A", "www.example.com AAAA" }, pipeline = 8,
    per_qtype = true }
  local function run(from, n)
    for i = from, from + n - 1 do
      ctx.conn_id, ctx.seq = 2, i
      local len = ph.request(ctx, buf, 65536)
      buf[4], buf[5] = 0x81, 0x80 -- the query becomes its own answer, in place
      ph.response(ctx, buf, len)
    end
  end
  run(0, 5000)
  collectgarbage("collect")
  collectgarbage("stop")
  local before = collectgarbage("count")
  run(5000, 20000)
  io.write(string.format("traces %d grew %d\n", traces, (collectgarbage("count") - before) * 1024))
  os.exit(0)
end

pcall(ffi.cdef, [[
struct surge_ctx { uint32_t conn_id; uint32_t worker; uint64_t seq; uint64_t now_ns; void *user; };
]])

local char, byte, fmt = string.char, string.byte, string.format
local function hex(s)
  return (s:gsub(".", function(c) return fmt("%02x", byte(c)) end))
end
local function unhex(h) -- hex digits; "|" starts a comment to the end of the line
  h = h:gsub("|[^\n]*", ""):gsub("%s", "")
  return (h:gsub("..", function(x) return char(tonumber(x, 16)) end))
end
local function u16(n) return char(bit.rshift(n, 8), bit.band(n, 255)) end
local function reset() counts, metrics = {}, {} end
local function errs(fn, ...)
  local ok, e = pcall(fn, ...)
  return not ok and tostring(e) or nil
end

-- ---- names (RFC 1035 §3.1, §5.1) ----
t.is(dns.encode_name("example.com"), "\7example\3com\0", "name without trailing dot")
t.is(dns.encode_name("example.com."), "\7example\3com\0", "name with trailing dot")
t.is(dns.encode_name("."), "\0", "root")
t.is(dns.encode_name("a\\.b.c"), "\3a.b\1c\0", "escaped dot stays in the label")
t.is(dns.encode_name("\\065x.\\\\"), "\2Ax\1\\\0", "\\DDD and \\\\ escapes")
for _, bad in ipairs { "", "a..b", ".a", "a\\", "a\\256.b", ("x"):rep(64) .. ".com",
  (("x"):rep(63) .. "."):rep(4) .. "x" } do
  local w, err = dns.encode_name(bad)
  t.ok(w == nil and type(err) == "string", "bad name refused: " .. bad:sub(1, 20) .. " (" ..
    tostring(err):sub(1, 40) .. ")")
end
t.ok(dns.encode_name((("x"):rep(62) .. "."):rep(4)) ~= nil, "a 253-character name fits in 255 octets")

-- ---- query types ----
t.is(dns.qtype("A"), 1, "A = 1")
t.is(dns.qtype("aaaa"), 28, "type names are case-insensitive")
t.is(dns.qtype("HTTPS"), 65, "HTTPS = 65")
t.is(dns.qtype("CAA"), 257, "CAA = 257")
t.is(dns.qtype("TYPE65534"), 65534, "TYPEnnn (RFC 3597)")
t.ok(dns.qtype("TYPE65536") == nil, "TYPE65536 refused")
t.ok(dns.qtype("AXFR") == nil and dns.qtype("TYPE251") == nil, "zone transfers refused")
local _, terr = dns.qtype("AAA")
t.ok(terr and terr:find("unknown query type 'AAA'", 1, true) and terr:find("TYPEnnn", 1, true),
  "unknown type names the known ones: " .. tostring(terr))

-- ---- encoder vs hand-built bytes (RFC 1035 §4.1.1-4.1.2, §4.2.2; RFC 6891 §6.1.2) ----
local q_a = unhex [[
  0028                      | length 40
  0000 0100                 | ID 0, RD
  0001 0000 0000 0001       | QD 1, AN 0, NS 0, AR 1
  07 6578616d706c65 03 636f6d 00   | example.com
  0001 0001                 | A IN
  00 0029 04d0 00 00 0000 0000     | OPT, 1232, ext-rcode 0, v0, flags 0, rdlen 0
]]
t.is(hex(dns.encode_query("example.com", "A")), hex(q_a), "A query with RD and EDNS 1232")
local q_plain = unhex [[
  001d 0000 0000 0001 0000 0000 0000  | length 29, ID 0, no flags, QD 1
  07 6578616d706c65 03 636f6d 00 001c 0001  | example.com AAAA IN
]]
t.is(hex(dns.encode_query("example.com", "AAAA", { rd = false, edns = false })), hex(q_plain),
  "AAAA query without RD and without OPT")
local q_do = dns.encode_query("example.com", "A", { do_bit = true, edns = 4096 })
t.is(hex(q_do:sub(-11)), "0000291000000080000000", "OPT with payload 4096 and the DO bit")
local q_ka = dns.encode_query("example.com", "A", { keepalive = true })
t.is(hex(q_ka:sub(-15)), "000029" .. "04d0" .. "00000000" .. "0004" .. "000b0000",
  "edns-tcp-keepalive option, empty (RFC 7828 §3.2.1)")
t.is(byte(q_ka, 2), #q_ka - 2, "length prefix covers the option")

-- ---- query files ----
local tmp = os.tmpname()
local f = assert(io.open(tmp, "w"))
f:write("# a comment\n\n  example.com A\r\n; bind-style comment\nwww.example.com\tAAAA  # trailing\n",
  "example.com TYPE99\n")
f:close()
local list, lerr = dns.load_queries(tmp)
t.ok(list and #list == 3, "query file: comments, blank lines, CRLF and tabs " .. tostring(lerr))
t.ok(list and list[2][1] == "www.example.com" and list[2][2] == 28 and list[3][2] == 99,
  "query file: names and types")
f = assert(io.open(tmp, "w"))
f:write("example.com A\n\nexample.com AAA\n")
f:close()
local l2, e2 = dns.load_queries(tmp)
t.ok(l2 == nil and e2 == tmp .. ":3: unknown query type 'AAA' (A, AAAA, NS, CNAME, MX, TXT, SOA, " ..
  "PTR, SRV, CAA, HTTPS, SVCB, DS, DNSKEY, ANY ... or TYPEnnn)", "bad type names file:line: " .. tostring(e2))
f = assert(io.open(tmp, "w"))
f:write("example.com\n")
f:close()
l2, e2 = dns.load_queries(tmp)
t.is(e2, tmp .. ":1: expected 'name TYPE', got 'example.com'", "a line without a type")
f = assert(io.open(tmp, "w"))
f:write("a..b A\n")
f:close()
l2, e2 = dns.load_queries(tmp)
t.is(e2, tmp .. ":1: empty label in 'a..b'", "a bad name names file:line")
f = assert(io.open(tmp, "w"))
f:write("# nothing\n")
f:close()
l2, e2 = dns.load_queries(tmp)
t.is(e2, tmp .. ": no queries (each line: 'name TYPE')", "an empty file")
os.remove(tmp)
l2, e2 = dns.load_queries(tmp)
t.ok(l2 == nil and e2:find("cannot read query file", 1, true), "a missing file")

-- ---- constructor errors ----
t.ok((errs(dns.tcp, { queries = "/nonexistent/q.txt" }) or ""):find("cannot read query file", 1, true),
  "missing query file raises")
t.ok((errs(dns.tcp, { queries = { "x A" }, pipeline = 0 }) or ""):find("pipeline", 1, true), "pipeline 0")
t.ok((errs(dns.tcp, { queries = { "x A" }, edns = 100 }) or ""):find("edns", 1, true), "edns 100")
t.ok((errs(dns.tcp, { queries = { "x A" }, edns = false, do_bit = true }) or ""):find("do_bit", 1, true),
  "DO without EDNS")
t.ok((errs(dns.tcp, { queries = { "x A" }, ids = "odd" }) or ""):find("ids", 1, true), "bad ids")
t.ok((errs(dns.tcp, { queries = { "x A" }, pipelien = 2 }) or ""):find("unknown option 'pipelien'", 1, true),
  "misspelled option")
t.ok((errs(dns.tcp, { queries = { "x AAA" } }) or ""):find("queries[1]: unknown query type", 1, true),
  "bad list entry")
t.ok((errs(dns.tcp, { queries = {} }) or ""):find("empty list", 1, true), "empty list")
t.ok((errs(dns.tcp, { queries = { { "a..b", "A" } } }) or ""):find("queries[1]: empty label", 1, true),
  "bad name in a table entry")
t.ok((errs(dns.tcp, { queries = { { "x", "BOGUS" } } }) or ""):find("queries[1]: unknown query type 'BOGUS'", 1, true),
  "bad type in a table entry")
t.ok(pcall(dns.tcp, { queries = { { "x" } } }), "a table entry without a type means A")
t.ok((errs(dns.tcp, { queries = 5 }) or ""):find("queries must be", 1, true), "queries of the wrong type")

-- ---- requests ----
local BUF = ffi.new("uint8_t[65536]")
local ctx = ffi.new("struct surge_ctx")
local function send(p, conn, seq)
  ctx.conn_id, ctx.seq, ctx.now_ns = conn or 1, seq or 0, 500
  local len, key = p.request(ctx, BUF, 65536)
  return len and ffi.string(BUF, len), key
end
local function recv(p, msg, conn)
  ctx.conn_id = conn or 1
  local buf = ffi.new("uint8_t[?]", #msg + 1)
  ffi.copy(buf, msg, #msg)
  return p.response(ctx, buf, #msg)
end
local function with_id(q, id) return q:sub(1, 2) .. u16(id) .. q:sub(5) end

local p = dns.tcp { queries = { "example.com A", { "www.example.com", "AAAA" } }, pipeline = 8 }
t.is(p.name, "dns", "protocol name")
t.ok(p.framing.kind == "u16" and p.match == "key" and p.pipeline == 8 and p.shape == "message",
  "message shape, u16 framing, matched by key")
local r1, k1 = send(p, 1, 0)
t.is(hex(r1), hex(with_id(q_a, k1)), "request = the encoded query with its ID patched in")
t.ok(type(k1) == "number" and k1 >= 0 and k1 < 65536, "key is the 16-bit ID")
local r2, k2 = send(p, 1, 1)
t.is(hex(r2), hex(with_id(dns.encode_query("www.example.com", "AAAA"), k2)), "the list is walked in order")

-- IDs unique among a connection's queries in flight, for both ID kinds.
for _, kind in ipairs { "random", "sequential" } do
  local pp = dns.tcp { queries = { "example.com A" }, pipeline = 8, ids = kind, seed = 7 }
  local bad, firsts = 0, {}
  for round = 0, 199 do
    local seen, keys = {}, {}
    for i = 0, 7 do
      local _, k = send(pp, 3, round * 8 + i)
      if seen[k] then bad = bad + 1 end
      seen[k], keys[#keys + 1] = true, k
    end
    if round == 0 then firsts = keys end
    -- answer them in reverse order, all matched
    for i = #keys, 1, -1 do
      local q = with_id(q_a, keys[i])
      local resp = q:sub(1, 4) .. char(0x81, 0x80) .. q:sub(7)
      local k = recv(pp, resp, 3)
      if k ~= keys[i] then bad = bad + 1 end
    end
  end
  t.is(bad, 0, kind .. " IDs: unique in flight, answers matched out of order")
  if kind == "sequential" then
    t.is(table.concat(firsts, ","), "0,1,2,3,4,5,6,7", "sequential IDs count from 0 per connection")
  end
end
-- A sequential ID whose slot is still in flight is skipped.
do
  local pp = dns.tcp { queries = { "example.com A" }, pipeline = 4, ids = "sequential" }
  local _, a = send(pp, 9, 0)
  local got = {}
  for i = 1, 4 do -- 1, 2, 3 answered at once; 4 would share a's slot
    local _, k = send(pp, 9, i)
    got[#got + 1] = k
    recv(pp, with_id(q_a, k):sub(1, 4) .. char(0x81, 0x80) .. q_a:sub(7), 9)
  end
  t.ok(a == 0 and table.concat(got, ",") == "1,2,3,5",
    "sequential IDs skip the slot of one still in flight (got " .. table.concat(got, ",") .. ")")
end
-- The scenario may set a larger pipeline than the module's: slots grow.
do
  local pp = dns.tcp { queries = { "example.com A" }, pipeline = 2 }
  local keys, seen, dup = {}, {}, 0
  for i = 0, 99 do
    local _, k = send(pp, 4, i)
    if seen[k] then dup = dup + 1 end
    seen[k], keys[#keys + 1] = true, k
  end
  local unmatched = 0
  for i = #keys, 1, -1 do
    local resp = with_id(q_a, keys[i]):sub(1, 4) .. char(0x81, 0x80) .. q_a:sub(7)
    if recv(pp, resp, 4) ~= keys[i] then unmatched = unmatched + 1 end
  end
  t.ok(dup == 0 and unmatched == 0, "100 in flight with pipeline = 2: unique and all matched")
end

-- ---- responses ----
-- A response to query q (framed): QR/RA set, rcode, answers appended.
local function answer(q, o)
  o = o or {}
  local msg = q:sub(3)
  local id = msg:sub(1, 2)
  local f1 = 0x80 + bit.band(byte(msg, 3), 0x79) + (o.tc and 2 or 0)
  local f2 = 0x80 + (o.rcode or 0)
  local qd = o.qd or 1
  local question = o.question or msg:sub(13, 12 + #dns.encode_name(o.qname or "example.com") + 4)
  local an = o.answers or {}
  local ad = o.additional or { "\0\0\41\4\208\0\0\0\0\0\0" }
  local body = id .. char(f1, f2) .. u16(qd) .. u16(#an) .. u16(0) .. u16(#ad) ..
    (qd > 0 and question or "") .. table.concat(an) .. table.concat(ad) .. (o.trailer or "")
  return u16(o.len or #body) .. body
end
local A_RR = "\192\12\0\1\0\1\0\0\14\16\0\4\198\18\0\1" -- ptr to 12, A IN, 3600, 198.18.0.1

reset()
p = dns.tcp { queries = { "example.com A" }, pipeline = 8, per_qtype = true }
local function exchange(o, conn)
  local _, k = send(p, conn or 1, 0)
  local q = with_id(q_a, k)
  local got, err = recv(p, answer(q, o), conn or 1)
  return got, err, k
end
local got, err, k = exchange { answers = { A_RR } }
t.ok(got == k and err == nil, "valid answer: key returned, no error")
t.ok(counts["dns.rcode.NOERROR"] == 1 and counts["dns.answers.with_records"] == 1,
  "counted NOERROR with records")
t.ok(counts["dns.qtype.A.rcode.NOERROR"] == 1 and metrics["dns.qtype.A.latency"] == 1,
  "per-QTYPE count and latency")
reset()
got, err, k = exchange { rcode = 3 }
t.ok(got == k and err == nil and counts["dns.rcode.NXDOMAIN"] == 1 and counts["dns.answers.empty"] == 1,
  "NXDOMAIN, no records")
reset()
got, err = exchange { rcode = 2, qd = 0 }
t.ok(err == nil and counts["dns.rcode.SERVFAIL"] == 1, "an error response may omit the question")
got, err = exchange { qd = 0 }
t.is(err, "question mismatch", "NOERROR without the question")
got, err = exchange { qd = 2, question = q_a:sub(15, 31):rep(2) }
t.is(err, "question mismatch", "two questions")
got, err = exchange { answers = { A_RR }, qname = "example.org", question = dns.encode_name("example.org") .. "\0\1\0\1" }
t.is(err, "question mismatch", "another name")
got, err = exchange { question = dns.encode_name("example.com") .. "\0\28\0\1" }
t.is(err, "question mismatch", "another type")
got, err = exchange { question = dns.encode_name("EXAMPLE.Com") .. "\0\1\0\1", answers = { A_RR } }
t.ok(err == nil, "names compare case-insensitively (RFC 4343)")
reset()
got, err = exchange { additional = { "\0\0\41\4\208\1\0\0\0\0\0" } } -- ext-rcode 1, rcode 0 -> 16
t.ok(err == nil and counts["dns.rcode.BADVERS"] == 1, "extended RCODE from OPT (BADVERS)")
t.ok(counts["status.16"] == 1, "the sample log's status is the extended RCODE (surge.status 16)")
reset()
got, err = exchange { tc = true, answers = { A_RR, A_RR }, len = nil, trailer = "" }
t.ok(err == nil and counts["dns.truncated"] == 1, "TC counted as truncated")
-- TC set and the message cut inside a record: still truncated, not malformed.
do
  local _, kk = send(p, 1, 0)
  local full = answer(with_id(q_a, kk), { tc = true, answers = { A_RR, A_RR } })
  local cut = full:sub(3, -8)
  reset()
  local g, e = recv(p, u16(#cut) .. cut)
  t.ok(g == kk and e == nil and counts["dns.truncated"] == 1 and not counts["dns.malformed"],
    "TC with a cut record is truncated, not malformed")
end

-- protocol errors
got, err = exchange { answers = { A_RR }, trailer = "\0" }
t.is(err, "malformed", "trailing bytes past the counted records")
do
  local _, kk = send(p, 1, 0)
  local full = answer(with_id(q_a, kk), { answers = { A_RR } })
  local g, e = recv(p, full:sub(1, 1) .. char(byte(full, 2) - 5) .. full:sub(3, -6))
  t.ok(g == kk and e == "malformed", "record cut short without TC")
  _, kk = send(p, 1, 0)
  full = answer(with_id(q_a, kk), { answers = { A_RR } })
  g, e = recv(p, full:sub(1, 1) .. char(byte(full, 2) + 1) .. full:sub(3))
  t.ok(g == kk and e == "malformed", "length prefix that lies")
  _, kk = send(p, 1, 0)
  local q = with_id(q_a, kk)
  g, e = recv(p, q)
  t.ok(g == kk and e == "not a response", "a query echoed back (QR = 0)")
end
-- Message offsets: header 0-11, question 12-28, first answer 29-44, second from 45.
local LOOP_SELF = "\192\45\0\1\0\1\0\0\0\1\0\4\1\2\3\4" -- at offset 45: points at itself
got, err = exchange { answers = { "\192\12\0\1\0\1\0\0\0\1\0\4\1\2\3\4", LOOP_SELF } }
t.is(err, "malformed", "compression pointer to itself")
got, err = exchange { answers = { "\192\200\0\1\0\1\0\0\0\1\0\4\1\2\3\4" } }
t.is(err, "malformed", "compression pointer forward / out of the message")
-- a->b->a: name at 29 is label "x" then a pointer to 45; name at 45 points to 29.
got, err = exchange { answers = { "\1x\192\45\0\1\0\1\0\0\0\1\0\2\1\2", "\192\29\0\1\0\1\0\0\0\1\0\0" } }
t.is(err, "malformed", "compression loop through two names")
got, err = exchange { answers = { "\1x\192\29\0\1\0\1\0\0\0\1\0\0" } }
t.is(err, "malformed", "pointer back to the start of its own name (x.x.x...)")
got, err = exchange { answers = { "\1x\192\12\0\1\0\1\0\0\0\1\0\0", "\1y\192\29\0\1\0\1\0\0\0\1\0\0" } }
t.ok(err == nil, "a chain of prior-occurrence pointers is fine (y.x.example.com)")
got, err = exchange { answers = { "\192\2\0\1\0\1\0\0\0\1\0\4\1\2\3\4" } }
t.is(err, "malformed", "pointer into the header")
got, err = exchange { answers = { "\64x\0\0\1\0\1\0\0\0\1\0\0" } }
t.is(err, "malformed", "extended label type")
got, err = exchange { additional = { "\0\0\41\4\208\0\0\0\0\0\0", "\0\0\41\4\208\0\0\0\0\0\0" } }
t.is(err, "malformed", "two OPT records")
got, err = exchange { answers = { "\0\0\41\4\208\0\0\0\0\0\0" } }
t.is(err, "malformed", "OPT in the answer section")
do -- a name of more than 255 octets through pointers
  local labels = {}
  for i = 1, 5 do labels[i] = "\60" .. ("a"):rep(60) end
  local long = table.concat(labels) -- 305 octets, no terminator: pointer back to example.com
  got, err = exchange { answers = { long .. "\192\12\0\1\0\1\0\0\0\1\0\0" } }
  t.is(err, "malformed", "name longer than 255 octets")
end
reset()
got, err = recv(p, "\0\1\0")
t.ok(got == nil and err == "malformed" and counts["dns.malformed"] == 1, "3 bytes: malformed, no ID")
do
  local _, kk = send(p, 1, 0)
  local g, e = recv(p, answer(with_id(q_a, (kk + 1) % 65536), { answers = { A_RR } }))
  t.ok(g == (kk + 1) % 65536 and e == "unmatched", "an ID not in flight is unmatched, the ID handed back")
  g, e = recv(p, answer(with_id(q_a, kk), { answers = { A_RR } }), 77)
  t.ok(g == kk and e == "unmatched", "an answer on a connection that sent nothing")
  g, e = recv(p, answer(with_id(q_a, kk), { answers = { A_RR } }))
  t.ok(g == kk and e == nil, "the right ID still matches afterwards")
  g, e = recv(p, answer(with_id(q_a, kk), { answers = { A_RR } }))
  t.ok(g == kk and e == "unmatched", "a second answer to the same query is unmatched")
end

-- ---- generated queries ----
do
  local n = 0
  local pg = dns.tcp { queries = function(c) n = n + 1; return "r" .. n .. ".example.com", "AAAA" end,
    pipeline = 4 }
  local r, kk = send(pg, 5, 0)
  t.is(hex(r), hex(with_id(dns.encode_query("r1.example.com", "AAAA"), kk)), "generated query bytes")
  local r2b, k2b = send(pg, 5, 1)
  local g, e = recv(pg, answer(r2b, { qname = "r2.example.com", answers = { A_RR } }), 5)
  t.ok(g == k2b and e == nil, "generated query answered")
  g, e = recv(pg, answer(r, { qname = "r9.example.com",
    question = dns.encode_name("r9.example.com") .. "\0\28\0\1" }), 5)
  t.ok(g == kk and e == "question mismatch", "generated query: question checked")
  local pe = dns.tcp { queries = function() return "a..b" end }
  local l, why = pe.request(ctx, BUF, 65536)
  t.ok(l == nil and why == "bad query name", "generator with a bad name skips the request")
  pe = dns.tcp { queries = function() return "a.b." end }
  r = send(pe, 1, 0)
  t.is(hex(r:sub(15, 22)), hex("\1a\1b\0\0\1\0\1"):sub(1, 16), "generated name with trailing dot")
end

-- ---- the query file shipped as an example ----
do
  local ex, exerr = dns.load_queries("scenarios/data/queries.txt")
  t.ok(ex and #ex >= 5, "scenarios/data/queries.txt loads " .. tostring(exerr))
end

-- ---- fuzz: any bytes, never an error, always a verdict (fixed seed, bounded) ----
do
  local seed = 12345
  local function rnd(n) -- xorshift32, reproducible across runs and machines
    seed = bit.bxor(seed, bit.lshift(seed, 13))
    seed = bit.bxor(seed, bit.rshift(seed, 17))
    seed = bit.bxor(seed, bit.lshift(seed, 5))
    return bit.band(seed, 0x7fffffff) % n
  end
  local pf = dns.tcp { queries = { "example.com A" }, pipeline = 1 }
  local _, kk = send(pf, 1, 0)
  local base = answer(with_id(q_a, kk), { answers = { A_RR, A_RR } })
  local qbuf = ffi.new("uint8_t[?]", 32)
  ffi.copy(qbuf, q_a:sub(15), 17)
  local buf = ffi.new("uint8_t[600]")
  local raised, verdicts, iterations = 0, {}, 20000
  for i = 1, iterations do
    local len
    if i % 4 == 0 then -- pure noise
      len = rnd(600)
      for j = 0, len - 1 do buf[j] = rnd(256) end
    else -- a valid answer with a few bytes changed, maybe cut or grown
      len = #base
      ffi.copy(buf, base, len)
      for _ = 1, 1 + rnd(4) do
        local at = rnd(len)
        buf[at] = rnd(8) == 0 and 0xc0 + rnd(2) or rnd(256)
      end
      if rnd(3) == 0 then len = rnd(len + 1) end
    end
    local ok, e = pcall(dns.parse, buf, len, qbuf, 17)
    if not ok then
      raised = raised + 1
      if raised == 1 then t.diag("raised: " .. tostring(e)) end
    else
      verdicts[e or "good"] = (verdicts[e or "good"] or 0) + 1
    end
    -- the full response path too (it must count and return, never raise)
    if i % 8 == 0 then
      local ok2 = pcall(pf.response, ctx, buf, len)
      if not ok2 then raised = raised + 1 end
    end
  end
  t.is(raised, 0, iterations .. " fuzzed messages parsed without raising")
  t.ok((verdicts.malformed or 0) > 1000 and (verdicts.good or 0) > 100,
    fmt("fuzz reached both verdicts (good %d, malformed %d, mismatch %d, not a response %d)",
      verdicts.good or 0, verdicts.malformed or 0, verdicts["question mismatch"] or 0,
      verdicts["not a response"] or 0))
end

-- ---- the hot path compiles and allocates nothing ----
-- Measured in a fresh process (this file run with --alloc-probe): the many
-- error paths above would otherwise shape which traces LuaJIT keeps.
do
  local cmd = fmt("%s %s --alloc-probe", arg[-1] or "luajit", arg[0])
  local pipe = io.popen(cmd)
  local outp = pipe:read("*a")
  pipe:close()
  local traces, grew = outp:match("traces (%d+) grew (%-?%d+)")
  traces, grew = tonumber(traces), tonumber(grew)
  t.ok(traces and traces > 0, fmt("request/response JIT-compiled: %s traces", tostring(traces)))
  t.ok(grew and grew < 1024, fmt("20000 requests and answers allocate nothing (%s bytes)", tostring(grew)))
  if not grew then t.diag(outp) end
end


-- Workers split the query list as they split the run's requests: worker 1
-- of 2 asks lines 1, 3, 0, 2, 4, ... of 5, worker 0 the others in turn, so
-- together they ask each line once a round (each used to walk it from line
-- 1, doubling half the names and never asking the rest).
do
  local names = { "a.test A", "b.test A", "c.test A", "d.test A", "e.test A" }
  local function asked(slot, slots, n)
    SLOT, SLOTS = slot, slots
    local p = dns.tcp { queries = names, pipeline = 64 }
    local got = {}
    for i = 0, n - 1 do
      local r = send(p, 1, i)
      got[#got + 1] = r:sub(16, 16) -- the name's first letter, after prefix, header and length
    end
    SLOT, SLOTS = nil, nil
    return table.concat(got)
  end
  t.is(asked(0, 1, 6), "abcdea", "one worker: the list in order")
  local w0, w1 = asked(0, 2, 5), asked(1, 2, 5)
  t.is(w0 .. "|" .. w1, "acebd|bdace", "worker 0 of 2 and worker 1 of 2 take every other line")
  local all = {}
  for i = 1, 5 do
    all[#all + 1] = w0:sub(i, i)
    all[#all + 1] = w1:sub(i, i)
  end
  t.is(table.concat(all), "abcdeabcde", "interleaved as the run's requests are: each line once a round")
end

t.done()
