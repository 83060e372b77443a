-- DNS over TCP (RFC 1035 §4.2.2, RFC 7766): queries from a dnsperf-style file,
-- a list or a generator, pipelined on each connection and matched by message ID,
-- because a server may answer pipelined queries in any order (RFC 7766 §6.2.1.1).
--
--   local dns = require "surge.proto.dns"
--   protocol = dns.tcp { queries = "scenarios/data/queries.txt", pipeline = 8 }
--
-- Each query's wire bytes are built once, when the scenario loads; per request
-- the engine's buffer gets one ffi.copy and a fresh ID. Every response is walked
-- to its end with bounds checks, so no byte sequence can crash or stall it:
-- whatever does not parse is counted as "malformed".
local ffi = require "ffi"
local bit = require "bit"
local surge = require "surge"
local units = require "surge.units"

local band, bor, bxor, lshift, rshift = bit.band, bit.bor, bit.bxor, bit.lshift, bit.rshift
local copy = ffi.copy
local byte, char, fmt, upper = string.byte, string.char, string.format, string.upper
local concat, unpack, find = table.concat, unpack, string.find
local type, tonumber, tostring, pairs, ipairs = type, tonumber, tostring, pairs, ipairs

local M = {}

-- What this module counts and records (a threshold may name any of them).
for _, n in ipairs { "dns.rcode.*", "dns.tc", "dns.truncated", "dns.malformed", "dns.answers.*",
  "dns.qtype.*", "dns.retries", "dns.tc_retried_tcp", "dns.tc_tcp.*", "dns.late_answers" } do
  surge.declare("counter", n)
end
surge.declare("histogram", "dns.qtype.*")

-- RR TYPEs by name: RFC 1035 §3.2.2-3.2.3 and the IANA "Resource Record (RR)
-- TYPEs" registry. Any other type is written TYPEnnn (RFC 3597 §5).
local TYPES = {
  A = 1, NS = 2, MD = 3, MF = 4, CNAME = 5, SOA = 6, MB = 7, MG = 8, MR = 9, NULL = 10,
  WKS = 11, PTR = 12, HINFO = 13, MINFO = 14, MX = 15, TXT = 16, RP = 17, AFSDB = 18,
  X25 = 19, ISDN = 20, RT = 21, NSAP = 22, ["NSAP-PTR"] = 23, SIG = 24, KEY = 25, PX = 26,
  GPOS = 27, AAAA = 28, LOC = 29, NXT = 30, EID = 31, NIMLOC = 32, SRV = 33, ATMA = 34,
  NAPTR = 35, KX = 36, CERT = 37, A6 = 38, DNAME = 39, SINK = 40, OPT = 41, APL = 42, DS = 43,
  SSHFP = 44, IPSECKEY = 45, RRSIG = 46, NSEC = 47, DNSKEY = 48, DHCID = 49, NSEC3 = 50,
  NSEC3PARAM = 51, TLSA = 52, SMIMEA = 53, HIP = 55, NINFO = 56, RKEY = 57, TALINK = 58,
  CDS = 59, CDNSKEY = 60, OPENPGPKEY = 61, CSYNC = 62, ZONEMD = 63, SVCB = 64, HTTPS = 65,
  SPF = 99, NID = 104, L32 = 105, L64 = 106, LP = 107, EUI48 = 108, EUI64 = 109,
  TKEY = 249, TSIG = 250, IXFR = 251, AXFR = 252, MAILB = 253, MAILA = 254, ANY = 255,
  URI = 256, CAA = 257, AVC = 258, DOA = 259, AMTRELAY = 260, TA = 32768, DLV = 32769,
}
M.types = TYPES

local TYPE_NAMES = {}
for k, v in pairs(TYPES) do TYPE_NAMES[v] = k end

-- RCODEs (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 6891 §9, RFC 7873 §8, RFC 8490 §10).
local RCODES = {
  [0] = "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
  "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", [16] = "BADVERS",
  [23] = "BADCOOKIE",
}
M.rcodes = RCODES

local function type_name(t) return TYPE_NAMES[t] or ("TYPE" .. t) end
local function rcode_name(r) return RCODES[r] or ("RCODE" .. r) end
M.type_name, M.rcode_name = type_name, rcode_name

local TYPE_LIST
local function known_types()
  if not TYPE_LIST then
    local l = {}
    for _, n in ipairs { "A", "AAAA", "NS", "CNAME", "MX", "TXT", "SOA", "PTR", "SRV", "CAA",
      "HTTPS", "SVCB", "DS", "DNSKEY", "ANY" } do l[#l + 1] = n end
    TYPE_LIST = concat(l, ", ") .. " ... or TYPEnnn"
  end
  return TYPE_LIST
end

-- qtype("AAAA") -> 28; qtype("TYPE65") -> 65; or nil, err.
function M.qtype(s)
  local n
  if type(s) == "number" then
    n = s
  elseif type(s) == "string" then
    local u = upper(s)
    n = TYPES[u]
    if not n then
      local d = u:match("^TYPE(%d%d?%d?%d?%d?)$") -- RFC 3597 §5: TYPE + decimal
      n = d and tonumber(d)
    end
  end
  if not n or n % 1 ~= 0 or n < 0 or n > 65535 then
    return nil, fmt("unknown query type %s (%s)", type(s) == "string" and ("'" .. s .. "'")
      or tostring(s), known_types())
  end
  -- AXFR/IXFR answers span several messages (RFC 5936 §2.2), which a
  -- one-answer-per-query exchange cannot account for; OPT is a pseudo-RR that
  -- never appears in a question (RFC 6891 §6.1.1).
  if n == 251 or n == 252 then return nil, "zone transfers (AXFR, IXFR) are not supported" end
  if n == 41 then return nil, "OPT is not a query type (RFC 6891 §6.1.1)" end
  return n
end

-- Presentation name -> wire-format labels, or nil, err. Names are absolute
-- (the trailing dot is optional) and "\." / "\DDD" escapes are understood
-- (RFC 1035 §5.1). Labels are 1-63 octets, the whole name at most 255 octets
-- on the wire (RFC 1035 §2.3.4, §3.1).
function M.encode_name(name)
  if type(name) ~= "string" or name == "" then return nil, "empty name" end
  if name == "." then return "\0" end
  local out, label, n, i = {}, {}, #name, 1
  local total = 1
  local function finish()
    if #label == 0 then return nil, fmt("empty label in '%s'", name) end
    if #label > 63 then return nil, fmt("label longer than 63 octets in '%s'", name) end
    total = total + #label + 1
    out[#out + 1] = char(#label) .. char(unpack(label))
    label = {}
    return true
  end
  while i <= n do
    local c = byte(name, i)
    if c == 46 then -- "."
      local ok, err = finish()
      if not ok then return nil, err end
      if i == n then break end
    elseif c == 92 then -- "\"
      local d = name:match("^%d%d%d", i + 1)
      if d then
        if tonumber(d) > 255 then return nil, fmt("bad escape \\%s in '%s'", d, name) end
        label[#label + 1] = tonumber(d)
        i = i + 3
      elseif i < n then
        label[#label + 1] = byte(name, i + 1)
        i = i + 1
      else
        return nil, fmt("name ends in a lone backslash: '%s'", name)
      end
    else
      label[#label + 1] = c
    end
    if i == n and c ~= 46 then
      local ok, err = finish()
      if not ok then return nil, err end
    end
    i = i + 1
  end
  if total > 255 then return nil, fmt("name longer than 255 octets: '%s'", name) end
  return concat(out) .. "\0"
end

local function u16(n) return char(rshift(n, 8), band(n, 255)) end

-- The header after the ID and the trailing OPT RR, shared by every query.
local function query_parts(o)
  -- RFC 1035 §4.1.1: QR=0 (query), OPCODE=0 (QUERY), RD as asked;
  -- QDCOUNT=1 (RFC 9619: a QUERY carries exactly one question), ARCOUNT=1 with EDNS.
  local head = char(o.rd and 1 or 0, 0) .. u16(1) .. u16(0) .. u16(0) .. u16(o.edns and 1 or 0)
  local opt = ""
  if o.edns then
    -- RFC 6891 §6.1.2: root owner, TYPE 41, CLASS = requestor's UDP payload size;
    -- §6.1.3: TTL = extended RCODE 0, VERSION 0, DO bit (RFC 3225 §3), Z 0.
    local rdata = ""
    if o.keepalive then
      -- RFC 7828 §3.1: edns-tcp-keepalive (option 11); clients send it empty (§3.2.1).
      rdata = u16(11) .. u16(0)
    end
    opt = "\0" .. u16(41) .. u16(o.edns) .. char(0, 0, o.do_bit and 0x80 or 0, 0) ..
      u16(#rdata) .. rdata
  end
  return head, opt
end

-- encode_query(name, qtype, opts) -> the framed query with ID 0 (2-byte length
-- prefix, RFC 1035 §4.2.2), or nil, err. opts: rd, edns, do_bit, keepalive as
-- for tcp(); defaults rd = true, edns = 1232.
function M.encode_query(name, qtype, opts)
  opts = opts or {}
  local o = { rd = opts.rd ~= false, edns = opts.edns, do_bit = opts.do_bit,
    keepalive = opts.keepalive }
  if o.edns == nil then o.edns = 1232 end
  local wire, err = M.encode_name(name)
  if not wire then return nil, err end
  local t, terr = M.qtype(qtype)
  if not t then return nil, terr end
  local head, opt = query_parts(o)
  -- RFC 1035 §4.1.2: QNAME, QTYPE, QCLASS (IN = 1).
  local msg = "\0\0" .. head .. wire .. u16(t) .. u16(1) .. opt
  return u16(#msg) .. msg
end

-- Splits one "name TYPE" line; returns name, type, or nil, err.
local function parse_line(line)
  local s = line:gsub("\r$", "")
  s = s:gsub("%s+[#;].*$", "")
  local name, qt, extra = s:match("^%s*(%S+)%s+(%S+)%s*(.-)%s*$")
  if not name or extra ~= "" then
    return nil, fmt("expected 'name TYPE', got '%s'", s:match("^%s*(.-)%s*$"))
  end
  local ok, err = M.encode_name(name)
  if not ok then return nil, err end
  local t, terr = M.qtype(qt)
  if not t then return nil, terr end
  return name, t
end

-- load_queries(path) -> { {name, qtype}, ... }, or nil and "path:line: what is wrong".
-- dnsperf's format: "name TYPE" a line, class IN; "#" and ";" start comments.
function M.load_queries(path)
  local f, oerr = io.open(path, "rb")
  if not f then return nil, fmt("cannot read query file: %s", oerr) end
  local list, n = {}, 0
  for line in f:lines() do
    n = n + 1
    if not line:match("^%s*$") and not line:match("^%s*[#;]") then
      local name, t = parse_line(line)
      if not name then
        f:close()
        return nil, fmt("%s:%d: %s", path, n, t)
      end
      list[#list + 1] = { name, t }
    end
  end
  f:close()
  if #list == 0 then return nil, fmt("%s: no queries (each line: 'name TYPE')", path) end
  return list
end

-- A list entry is "name TYPE" or { name, TYPE } (TYPE defaults to A there).
local function normalize_list(q)
  local list = {}
  for i, e in ipairs(q) do
    local name, t
    if type(e) == "string" then
      name, t = parse_line(e)
    elseif type(e) == "table" then
      local ok, err = M.encode_name(e[1])
      if ok then t, err = M.qtype(e[2] or "A") end
      if ok and t then name = e[1] else t = err end
    else
      name, t = nil, "expected \"name TYPE\" or { name, TYPE }"
    end
    if not name then return nil, fmt("queries[%d]: %s", i, t) end
    list[i] = { name, t }
  end
  if #list == 0 then return nil, "queries: an empty list" end
  return list
end

-- A relative query file is looked up from the working directory, then beside
-- the scenario file that called tcp() (so copied scenarios keep working).
local function find_file(path, level)
  local f = io.open(path, "rb")
  if f then f:close() return path end
  if path:sub(1, 1) == "/" then return path end
  local info = debug.getinfo(level, "S")
  local src = info and info.source or ""
  local dir = src:match("^@(.*)/[^/]*$")
  if dir then
    local alt = dir .. "/" .. path
    f = io.open(alt, "rb")
    if f then f:close() return alt end
  end
  return path
end

-- Writes name's wire form at buf + off (generated queries); returns the offset
-- past it, or nil. Plain names are written in place; escapes take the general
-- encoder. Same rules as encode_name (RFC 1035 §3.1).
local function put_name(buf, off, name)
  local n = #name
  if n == 0 or n > 254 then return nil end
  if find(name, "\\", 1, true) then
    local w = M.encode_name(name)
    if not w then return nil end
    copy(buf + off, w, #w)
    return off + #w
  end
  if n == 1 and byte(name) == 46 then
    buf[off] = 0
    return off + 1
  end
  local start, lenpos, ll = off, off, 0
  off = off + 1
  for i = 1, n do
    local c = byte(name, i)
    if c == 46 then
      if ll == 0 or ll > 63 then return nil end
      buf[lenpos] = ll
      lenpos, ll = off, 0
    else
      buf[off] = c
      ll = ll + 1
    end
    off = off + 1
  end
  if ll > 63 then return nil end
  buf[lenpos] = ll -- 0 after a trailing dot: that byte is the root label
  if ll > 0 then
    buf[off] = 0
    off = off + 1
  end
  if off - start > 255 then return nil end
  return off
end
M.put_name = put_name

---------------------------------------------------------------------------
-- Response parsing. p points at the framed message (length prefix first),
-- so the DNS message starts at p + 2 and compression offsets are relative
-- to that (RFC 1035 §4.1.4). Over UDP there is no prefix: pre = 0.
---------------------------------------------------------------------------
local HDR = 2 + 12

ffi.cdef "int memcmp(const void *a, const void *b, size_t n);"
local C = ffi.C

-- Offset just past the name at off, or -1. Pointers are followed (so the name
-- is validated completely) under one rule that makes loops impossible: each
-- pointer must go strictly before the start of the label run it ends, i.e. to
-- a *prior* occurrence (RFC 1035 §4.1.4), so targets strictly decrease.
local function name_end(p, off, len, pre)
  pre = pre or 2
  local limit, total, hops, stop = off, 1, 0, -1
  while off < len do
    local b = p[off]
    if b == 0 then
      if stop < 0 then stop = off + 1 end
      return stop
    elseif b < 64 then
      total = total + b + 1 -- RFC 1035 §3.1: at most 255 octets
      if total > 255 then return -1 end
      off = off + b + 1
    elseif b >= 192 then
      if off + 1 >= len then return -1 end
      if stop < 0 then stop = off + 2 end
      local t = pre + band(b, 63) * 256 + p[off + 1]
      hops = hops + 1
      if t >= limit or t < pre + 12 or hops > 127 then return -1 end
      limit, off = t, t
    else
      return -1 -- 0x40/0x80 label types: RFC 6891 §5 (extended labels are not used)
    end
  end
  return -1
end

-- parse(p, len, q, qlen) -> err, rcode, ancount, tc. err is nil for a good
-- response, else "malformed", "not a response" or "question mismatch".
-- q/qlen: the question we sent (wire name, QTYPE, QCLASS). pre: 2 (TCP, the
-- default) or 0 (UDP: the datagram is the message, RFC 1035 §4.2.1).
local function parse(p, len, q, qlen, pre)
  pre = pre or 2
  local hdr = pre + 12
  if len < hdr then return "malformed" end
  -- RFC 1035 §4.2.2 / RFC 7766 §8: the prefix is the message length.
  if pre == 2 and p[0] * 256 + p[1] ~= len - 2 then return "malformed" end
  local f1, f2 = p[pre + 2], p[pre + 3]
  -- RFC 1035 §4.1.1: QR must be 1 and OPCODE copied from the query (0, QUERY).
  if f1 < 128 or band(f1, 0x78) ~= 0 then return "not a response" end
  local tc = band(f1, 2) ~= 0
  local rcode = band(f2, 15)
  local qd = p[pre + 4] * 256 + p[pre + 5]
  local an = p[pre + 6] * 256 + p[pre + 7]
  local ar = p[pre + 10] * 256 + p[pre + 11]
  local nrr = an + p[pre + 8] * 256 + p[pre + 9] + ar
  local an_ns = nrr - ar
  local off = hdr
  if qd == 1 then
    -- RFC 1035 §7.3: the question must be the one asked; names compare
    -- case-insensitively (RFC 1035 §2.3.3, RFC 4343 §3). Servers echo the
    -- bytes we sent, so one memcmp settles the common case.
    if len - off < qlen or C.memcmp(p + off, q, qlen) ~= 0 then
      local e = name_end(p, off, len, pre)
      if e < 0 or e + 4 > len then return "malformed" end
      if e + 4 - off ~= qlen then return "question mismatch" end
      local nl = qlen - 4
      for i = 0, nl - 1 do
        local a, b = p[off + i], q[i]
        if a ~= b then
          if a >= 65 and a <= 90 then a = a + 32 end
          if b >= 65 and b <= 90 then b = b + 32 end
          if a ~= b then return "question mismatch" end
        end
      end
      for i = nl, qlen - 1 do
        if p[off + i] ~= q[i] then return "question mismatch" end
      end
    end
    off = off + qlen
  elseif qd ~= 0 then
    return "question mismatch" -- RFC 9619 §2: a response to QUERY has QDCOUNT 1
  end
  local opt = false
  for i = 1, nrr do
    -- RFC 1035 §4.1.3: NAME, TYPE, CLASS, TTL, RDLENGTH, RDATA. With TC set
    -- the server may have cut the message short (RFC 2181 §9): stop there.
    -- Owner names are nearly always the root (OPT) or a pointer to the
    -- question's name, which is already checked: no walk for those.
    local e, b = -1, off < len and p[off] or 1
    if b == 0 then
      e = off + 1
    elseif b == 0xc0 and qd == 1 and off + 1 < len and p[off + 1] == 12 then
      e = off + 2
    else
      e = name_end(p, off, len, pre)
    end
    if e < 0 or e + 10 > len then
      if tc then break end
      return "malformed"
    end
    local nxt = e + 10 + p[e + 8] * 256 + p[e + 9]
    if nxt > len then
      if tc then break end
      return "malformed"
    end
    if p[e] == 0 and p[e + 1] == 41 then
      -- RFC 6891 §6.1.1: one OPT at most, in the additional section, owned
      -- by the root; §6.1.3: its TTL's top octet extends the RCODE.
      if opt or i <= an_ns or e ~= off + 1 or p[off] ~= 0 then return "malformed" end
      opt = true
      rcode = rcode + p[e + 4] * 16
    end
    off = nxt
  end
  if off ~= len and not tc then return "malformed" end -- bytes the counts do not cover
  -- Error responses may leave the question out (RFC 1035 §4.1.1 does not
  -- require it; FORMERR/NOTIMP replies commonly do): only NOERROR must carry it.
  if qd == 0 and rcode == 0 then return "question mismatch" end
  return nil, rcode, an, tc
end
M.parse = parse
M.name_end = name_end

---------------------------------------------------------------------------
-- The protocol table.
---------------------------------------------------------------------------
ffi.cdef [[
struct surge_dns_sent { uint16_t id, qtype; int32_t q; double t; uint8_t busy; };
struct surge_dns_sent_q { uint16_t id, qtype; int32_t q; double t; uint8_t busy;
                          uint16_t qlen; uint8_t qd[262]; };
]]
local SENT = ffi.typeof("struct surge_dns_sent[?]")
local SENT_Q = ffi.typeof("struct surge_dns_sent_q[?]")
local FREE = ffi.typeof("uint16_t[?]")

local OPTIONS = { queries = true, pipeline = true, edns = true, do_bit = true, rd = true,
  ids = true, per_qtype = true, keepalive = true, seed = true }
local UDP_OPTIONS = { queries = true, pipeline = true, edns = true, do_bit = true, rd = true,
  ids = true, per_qtype = true, seed = true, retries = true, retry_after = true, tc = true }

-- Cached counter names so counting allocates nothing.
local RCODE_COUNTER = setmetatable({}, { __index = function(t, r)
  local s = "dns.rcode." .. rcode_name(r)
  t[r] = s
  return s
end })

-- Level 5 is the scenario line that called dns.tcp/dns.udp: raise, fail,
-- build, M.tcp/M.udp, the scenario.
local function raise(kind, msg) error("dns." .. kind .. ": " .. msg, 5) end

local function known(set)
  local l = {}
  for k in pairs(set) do l[#l + 1] = k end
  table.sort(l)
  return concat(l, ", ")
end

-- The protocol table for TCP (kind "tcp": length-prefixed, RFC 1035 §4.2.2)
-- or UDP (kind "udp": one query per datagram, RFC 1035 §4.2.1).
local function build(kind, opts)
  local udp = kind == "udp"
  local function fail(msg) raise(kind, msg) end
  opts = opts or {}
  if type(opts) ~= "table" then fail("expected a table of options") end
  local allowed = udp and UDP_OPTIONS or OPTIONS
  for k in pairs(opts) do
    if not allowed[k] then
      fail(fmt("unknown option '%s' (known: %s)", tostring(k), known(allowed)))
    end
  end
  -- Bytes before the DNS message: the TCP length prefix, none over UDP.
  local pre = udp and 0 or 2
  local hdr = pre + 12
  local tc_mode = opts.tc or "count"
  local retries, retry_after = opts.retries or 0, opts.retry_after
  if udp then
    -- RFC 1035 4.2.1 / RFC 7766 5: a truncated answer is asked again over TCP.
    if tc_mode ~= "count" and tc_mode ~= "tcp" then
      fail(fmt("tc must be \"count\" (count truncated answers under dns.tc) or \"tcp\" (also "
        .. "ask them again over TCP), not %s", tostring(tc_mode)))
    end
    if type(retries) ~= "number" or retries % 1 ~= 0 or retries < 0 or retries > 255 then
      fail(fmt("retries must be a whole number of resends from 0 to 255, not %s",
        tostring(retries)))
    end
    if retry_after ~= nil then
      local s = units.duration(retry_after)
      if not s or s <= 0 then
        fail(fmt("retry_after must be a duration above 0 like \"500ms\" (how long each try "
          .. "waits), not %s", tostring(retry_after)))
      end
      if retries == 0 then fail("retry_after needs retries (how many times to resend)") end
      retry_after = s
    end
  end
  local pipeline = opts.pipeline or 8
  if type(pipeline) ~= "number" or pipeline % 1 ~= 0 or pipeline < 1 or pipeline > 32768 then
    fail("pipeline must be a whole number from 1 to 32768 (IDs are 16 bits)")
  end
  local edns = opts.edns
  if edns == nil or edns == true then edns = 1232 end
  -- RFC 6891 §6.2.5: payload sizes below 512 are treated as 512.
  if edns ~= false and (type(edns) ~= "number" or edns % 1 ~= 0 or edns < 512 or edns > 65535) then
    fail("edns must be a UDP payload size from 512 to 65535, or false for no OPT record")
  end
  local do_bit = opts.do_bit or false
  if do_bit and not edns then fail("do_bit needs EDNS (RFC 3225 §3): set edns") end
  local keepalive = opts.keepalive or false
  if keepalive and not edns then fail("keepalive needs EDNS (RFC 7828 §3.1): set edns") end
  local rd = opts.rd ~= false
  local ids = opts.ids or "random"
  if ids ~= "random" and ids ~= "sequential" then fail("ids must be \"random\" or \"sequential\"") end
  local per_qtype = opts.per_qtype or false
  local seed = opts.seed or 1

  local eo = { rd = rd, edns = edns, do_bit = do_bit, keepalive = keepalive }
  local head, opt = query_parts(eo)

  -- The query set: one blob of framed queries with offsets, or a generator.
  local queries = opts.queries
  local gen, nq, blob, qoff, qlen, qqlen, qtypes
  if type(queries) == "function" then
    gen = queries
  else
    local list, err
    if type(queries) == "string" then
      list, err = M.load_queries(find_file(queries, 4)) -- find_file, build, M.tcp, scenario
    elseif type(queries) == "table" then
      list, err = normalize_list(queries)
    else
      err = "queries must be a file name, a list of \"name TYPE\" or a function(ctx)"
    end
    if not list then fail(err) end
    nq = #list
    local parts, total = {}, 0
    qoff, qlen = ffi.new("int32_t[?]", nq), ffi.new("int32_t[?]", nq)
    qqlen, qtypes = ffi.new("int32_t[?]", nq), ffi.new("uint16_t[?]", nq)
    for i, e in ipairs(list) do
      local w = M.encode_name(e[1])
      local m = "\0\0" .. head .. w .. u16(e[2]) .. u16(1) .. opt
      parts[i] = udp and m or (u16(#m) .. m)
      qoff[i - 1], qlen[i - 1], qqlen[i - 1], qtypes[i - 1] = total, #m + pre, #w + 4, e[2]
      total = total + #m + pre
    end
    blob = ffi.new("uint8_t[?]", total)
    copy(blob, concat(parts), total)
  end

  -- Queries in flight, per connection: slot i of `e` holds the query whose ID
  -- ends in the bits of i (cap is a power of two), so an answer finds its query
  -- without a search and two queries in flight never share an ID
  -- (RFC 7766 §6.2.1.1: the ID is what pairs answers with queries).
  local cap0 = 1
  while cap0 < pipeline do cap0 = cap0 * 2 end
  local random_ids = ids == "random"
  local states = {}     -- conn_id -> { n, cap, mask, bits, e, free, nfree, next }
  -- The next query of the list, shared by a worker's connections. Workers
  -- take every slots-th line from their slot, as they take the run's
  -- requests: together they ask the list in order, each line once a round
  -- (dnsperf's threads share one file the same way). Set at the first
  -- request, in the worker.
  local cursor, step = 0, nil
  local rng = band(seed * 2654435761 + 1, 0x7fffffff)
  if rng == 0 then rng = 1 end
  local E = gen and SENT_Q or SENT

  -- A new connection: every slot free (random IDs take slots from a stack).
  local function reset(st)
    local cap, free = st.cap, st.free
    ffi.fill(st.e, ffi.sizeof(E, cap))
    for i = 0, cap - 1 do free[i] = cap - 1 - i end
    st.n, st.nfree, st.next = 0, cap, 0
  end

  local function state(conn_id)
    local bits = 0
    while lshift(1, bits) < cap0 do bits = bits + 1 end
    local st = { cap = cap0, mask = cap0 - 1, bits = bits, e = E(cap0), free = FREE(cap0) }
    reset(st)
    states[conn_id] = st
    return st
  end

  -- Only when the scenario's own `pipeline` exceeds the module's: twice the
  -- slots; queries in flight move to the slot their ID names under the wider
  -- mask (distinct IDs with distinct low bits stay distinct).
  local function grow(st)
    local cap = st.cap * 2
    if cap > 65536 then return false end
    local e, free, mask, old = E(cap), FREE(cap), cap - 1, st.e
    for i = 0, st.cap - 1 do
      if old[i].busy ~= 0 then e[band(old[i].id, mask)] = old[i] end
    end
    local nf = 0
    for i = cap - 1, 0, -1 do
      if e[i].busy == 0 then free[nf], nf = i, nf + 1 end
    end
    st.e, st.free, st.nfree, st.cap, st.mask, st.bits = e, free, nf, cap, mask, st.bits + 1
    return true
  end

  -- Takes a slot and returns the ID for it, or nil when 65536 are in flight.
  local function new_id(st)
    if st.n == st.cap and not grow(st) then return nil end
    st.n = st.n + 1
    if random_ids then
      local nf = st.nfree - 1
      st.nfree = nf
      rng = bxor(rng, lshift(rng, 13)) -- xorshift32: random bits above the slot's
      rng = bxor(rng, rshift(rng, 17))
      rng = bxor(rng, lshift(rng, 5))
      return bor(band(lshift(rng, st.bits), 0xffff), st.free[nf])
    end
    local id, e, mask = st.next, st.e, st.mask
    while e[band(id, mask)].busy ~= 0 do id = band(id + 1, 0xffff) end -- still in flight
    st.next = band(id + 1, 0xffff)
    return id
  end

  local request
  if not gen then
    request = function(ctx, buf, cap)
      local st = states[ctx.conn_id] or state(ctx.conn_id)
      if ctx.seq == 0 then reset(st) end -- a new connection
      local id = new_id(st)
      if not id then return nil, "too many in flight" end
      if not step then
        local slot, slots = 0, 1
        if surge.worker_slot then slot, slots = surge.worker_slot() end
        cursor, step = slot % nq, slots % nq
        if step == 0 then step = nq end -- as many workers as lines, or more
      end
      local i = cursor
      cursor = (i + step) % nq
      local len = qlen[i]
      copy(buf, blob + qoff[i], len)
      buf[pre], buf[pre + 1] = rshift(id, 8), band(id, 255)
      local s = st.e[band(id, st.mask)]
      s.id, s.qtype, s.q, s.busy = id, qtypes[i], i, 1
      if per_qtype then s.t = tonumber(ctx.now_ns) end
      return len, id
    end
  else
    local hlen = #head
    local head_b, opt_b = ffi.new("uint8_t[?]", hlen), ffi.new("uint8_t[?]", #opt + 1)
    copy(head_b, head, hlen)
    copy(opt_b, opt, #opt)
    local olen = #opt
    local qt_cache = {}
    request = function(ctx, buf, cap)
      local name, qt = gen(ctx)
      if type(name) ~= "string" then return nil, "generator returned no name" end
      qt = qt or "A"
      local t = qt_cache[qt]
      if not t then
        t = M.qtype(qt)
        if not t then return nil, "bad query type" end
        qt_cache[qt] = t
      end
      copy(buf + pre + 2, head_b, hlen)
      local o = put_name(buf, pre + 2 + hlen, name)
      if not o then return nil, "bad query name" end
      buf[o], buf[o + 1], buf[o + 2], buf[o + 3] = rshift(t, 8), band(t, 255), 0, 1
      o = o + 4
      copy(buf + o, opt_b, olen)
      local len = o + olen
      local st = states[ctx.conn_id] or state(ctx.conn_id)
      if ctx.seq == 0 then reset(st) end
      local id = new_id(st)
      if not id then return nil, "too many in flight" end
      if not udp then buf[0], buf[1] = rshift(len - 2, 8), band(len - 2, 255) end
      buf[pre], buf[pre + 1] = rshift(id, 8), band(id, 255)
      local s = st.e[band(id, st.mask)]
      local ql = o - pre - 2 - hlen
      s.id, s.qtype, s.q, s.busy, s.qlen = id, t, -1, 1, ql
      copy(s.qd, buf + pre + 2 + hlen, ql)
      if per_qtype then s.t = tonumber(ctx.now_ns) end
      return len, id
    end
  end

  local count, metric, now_ns, status = surge.count, surge.metric, surge.now_ns, surge.status
  local qt_counter = {} -- qtype -> rcode -> counter name, filled as seen
  local qt_metric = {}

  -- Frees the slot of a query no longer in flight (answered or expired).
  local function release(st, slot)
    local s = st.e[slot]
    s.busy = 0
    st.n = st.n - 1
    if random_ids then
      st.free[st.nfree] = slot
      st.nfree = st.nfree + 1
    end
  end

  local tc_counter = udp and "dns.tc" or "dns.truncated"
  local tcp_retry = udp and tc_mode == "tcp"
  local resends = udp and retries > 0

  local function response(ctx, p, len)
    if len < pre + 2 then
      count("dns.malformed")
      return nil, "malformed"
    end
    local id = p[pre] * 256 + p[pre + 1]
    -- An ID not in flight is handed back with the error: the core then
    -- knows whether an answer was still owed to it (a resent query's).
    local st = states[ctx.conn_id]
    if not st then return id, "unmatched" end
    local slot = band(id, st.mask)
    local s = st.e[slot]
    if s.busy == 0 or s.id ~= id then return id, "unmatched" end
    local qi, qtype, t0 = s.q, s.qtype, s.t
    local err, rcode, an, tc
    if qi >= 0 then
      err, rcode, an, tc = parse(p, len, blob + qoff[qi] + hdr, qqlen[qi], pre)
    else
      err, rcode, an, tc = parse(p, len, s.qd, s.qlen, pre)
    end
    if err == "question mismatch" and resends then
      -- RFC 5452 9.1: an answer is the one whose ID *and* question match.
      -- With resends, a late answer to an earlier query that used this ID
      -- can come: it is not this query's answer, which still waits; the
      -- core counts it late if one was owed to the ID, else unmatched.
      return id, "unmatched", "late"
    end
    if err then
      release(st, slot)
      if err == "malformed" then count("dns.malformed") end
      return id, err
    end
    if tc and tcp_retry then
      -- The TCP answer settles it (and is the one whose rcode counts): the
      -- slot stays busy, the core resends the query over TCP.
      count(tc_counter)
      return id, nil, "tcp"
    end
    release(st, slot)
    count(RCODE_COUNTER[rcode])
    status(rcode) -- the sample log's status (RFC 1035 4.1.1, extended by RFC 6891 6.1.3)
    if tc then count(tc_counter) end
    if an > 0 then count("dns.answers.with_records") else count("dns.answers.empty") end
    if per_qtype then
      local byr = qt_counter[qtype]
      if not byr then
        byr = {}
        qt_counter[qtype] = byr
        qt_metric[qtype] = "dns.qtype." .. type_name(qtype) .. ".latency"
      end
      local name = byr[rcode]
      if not name then
        name = "dns.qtype." .. type_name(qtype) .. ".rcode." .. rcode_name(rcode)
        byr[rcode] = name
      end
      count(name)
      metric(qt_metric[qtype], now_ns() - t0)
    end
    return id
  end

  -- UDP: a query whose answer was lost timed out in the core; its ID is
  -- free again, and an answer that still comes for it is unmatched.
  local function expired(ctx, key)
    local st = states[ctx.conn_id]
    if not st then return end
    local slot = band(key, st.mask)
    local s = st.e[slot]
    if s.busy ~= 0 and s.id == key then release(st, slot) end
  end

  if udp then
    return {
      name = "dns",
      shape = "message",
      transport = "udp",  -- RFC 1035 §4.2.1: one message per datagram
      pipeline = pipeline, -- queries in flight per socket, matched by ID
      match = "key",
      -- RFC 6891 §6.2.3: a responder never sends more than the requestor's
      -- payload size (512 without EDNS, RFC 1035 §4.2.1): more is oversized.
      max_message = edns or 512,
      request = request,
      response = response,
      expired = expired,
      -- Resent on the same socket, same ID, when unanswered (the core keeps
      -- the bytes); truncated answers asked again over TCP (RFC 7766 5).
      retries = retries > 0 and retries or nil,
      retry_after = retry_after,
      tcp_fallback = tcp_retry or nil,
    }
  end
  return {
    name = "dns",
    shape = "message",
    framing = { kind = "u16" }, -- RFC 1035 §4.2.2: 2-byte length, then the message
    pipeline = pipeline,        -- RFC 7766 §6.2.1.1: pipelining, answers in any order
    match = "key",              -- by ID, unique among a connection's queries in flight
    max_message = 65537,
    request = request,
    response = response,
  }
end

-- Not tail calls: the scenario stays at a fixed level for errors and files.
function M.tcp(opts)
  local p = build("tcp", opts)
  return p
end
-- DNS over UDP on connected sockets: tc = "count" (answers with TC set are
-- counted under dns.tc) or "tcp" (counted, and the query asked again over TCP
-- to the same server); retries = N resends an unanswered query on its socket
-- with the same ID, each try waiting retry_after (default: the request
-- timeout split over the tries); a request whose tries are spent times out.
function M.udp(opts)
  local p = build("udp", opts)
  return p
end

M.new = M.tcp
return M
