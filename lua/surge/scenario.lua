-- Scenario loading: run the scenario file, merge the command line's
-- overrides, check every option and return one normalized table for the
-- engine. Every error names the file, the line (where the option is written)
-- the option and what was expected; nothing is silently ignored.
local units = require "surge.units"
local ramp = require "surge.ramp"
local target = require "surge.target"
local keys = require "surge.keys"
local raised_what = require("surge.raised").what

local M = {}

local fmt = string.format

local function describe(v)
  if type(v) == "string" then return fmt("%q", v) end
  if type(v) == "table" then return "a table" end
  return type(v) .. " " .. tostring(v)
end

-- Bounds: every number must be finite and fit where the engine keeps it
-- (NaN compares false with everything, so an unchecked 0/0 slips through
-- `n < min`; math.huge or 2^32 + 1 would wrap in a uint32_t).
local U32 = 4294967295
local MAX_RATE = 1e9             -- requests (or connections) per second: one a nanosecond
local MAX_DURATION = 366 * 86400 -- seconds: a year of soak is plenty, and ns fit in 64 bits
-- Worker processes: more than this only contend for the CPUs and slow the
-- fork; engine/plan.h PLAN_MAX_WORKERS is the same number.
local MAX_WORKERS = 1024
M.MAX_WORKERS = MAX_WORKERS

local function number(v)
  local n = units.count(v) -- finite and >= 0, for numbers and strings alike
  return n
end

-- Each checker returns the normalized value, or nil and what was expected.
local function count_or_ramp(min, max, least)
  return function(v)
    if ramp.is_ramp(v) then return v end
    local n = number(v)
    if not n or n < min or n ~= math.floor(n) then
      return nil, fmt("a whole number >= %d (e.g. 200, 25k) or a ramp (surge.ramp)", least or min)
    end
    if n > max then return nil, fmt("a whole number from %d to %d, or a ramp (surge.ramp)", min, max) end
    return n
  end
end

local function rate_or_ramp(v)
  if ramp.is_ramp(v) then return v end
  local n = number(v)
  if not n or n <= 0 or n > MAX_RATE then
    return nil, "a rate in requests per second > 0 and at most 1G (e.g. 50000, 50k) or a ramp (surge.ramp), "
      .. "or on the command line closed (-r closed: the closed model)"
  end
  return n
end

local function duration(v)
  local s = units.duration(v) -- finite and >= 0
  if not s or s > MAX_DURATION then
    return nil, "a duration like 10s, 500ms or 2m (at most 8784h, a year)"
  end
  return s
end

-- A time something is waited for: 0 would be no wait at all (an RTSP reader
-- timed out at once, a message request never did), so it is refused.
local function wait_time(v)
  local s = units.duration(v)
  if not s or s <= 0 or s > MAX_DURATION then
    return nil, "a duration > 0 like 5s or 500ms (at most 8784h, a year: for no limit in practice)"
  end
  return s
end

-- pace_window: how late an open-model request may leave to share a wake-up.
local function pace_window(v)
  local s = units.duration(v)
  if not s or s > 0.01 then
    return nil, "a duration from 0 to 10ms, e.g. \"0s\" (each request on its own wake-up) or \"200us\""
  end
  return s
end

local function positive_int(max)
  return function(v)
    local n = number(v)
    if not n or n < 1 or n ~= math.floor(n) or n > max then
      return nil, fmt("a whole number from 1 to %.0f", max)
    end
    return n
  end
end

local function workers(v)
  local n = number(v)
  if not n or n < 1 or n ~= math.floor(n) then return nil, "a whole number >= 1" end
  if n > MAX_WORKERS then
    return nil, fmt("at most %d worker processes (more only contend for the CPUs); "
      .. "to hold more connections per worker, raise the open-files limit (ulimit -n)", MAX_WORKERS)
  end
  return n
end

local function positive_number(max)
  return function(v)
    local n = number(v)
    if not n or n <= 0 or n > max then return nil, fmt("a number > 0 and at most %g", max) end
    return n
  end
end

local function boolean(v)
  if type(v) == "boolean" then return v end
  if v == "true" or v == "1" or v == "yes" then return true end
  if v == "false" or v == "0" or v == "no" then return false end
  return nil, "true or false"
end

local function one_of(...)
  local set, list = {}, { ... }
  for _, k in ipairs(list) do set[k] = true end
  return function(v)
    if set[v] then return v end
    return nil, "one of " .. table.concat(list, ", ")
  end
end

local function str(v)
  if type(v) == "string" and v ~= "" then return v end
  return nil, "a string"
end

local function targets(v)
  local list = type(v) == "table" and v or { v }
  if #list == 0 then return nil, "a target like tcp://127.0.0.1:7000, or a list of them" end
  local out = {}
  for i, s in ipairs(list) do
    local t, err = target.parse(s)
    if not t then return nil, fmt("a target like tcp://127.0.0.1:7000 (entry %d: %s)", i, err) end
    out[i] = t
  end
  return out
end

-- { ["latency.p99"] = "< 5ms", ["errors.rate"] = { "< 0.1%", ... } }, and
-- { "< 5ms", abort = true, abort_after = "10s" } to stop the run as soon as
-- it fails: the shape only; engine/threshold.c parses metric and condition
-- (one grammar for the scenario, --threshold and `surge report`).
local THRESHOLD_SHAPE = 'a table like { ["latency.p99"] = "< 5ms", ["errors.rate"] = "< 0.1%" }'
-- Whole messages that say what the metric has: "got a table" would name
-- the thresholds table, not the faulty value. The fourth value is the key
-- whose line the error names (the metric's, not `thresholds =`).
local function thresholds(v)
  if type(v) ~= "table" then return nil, THRESHOLD_SHAPE end
  for k, c in pairs(v) do
    if type(k) ~= "string" then
      return nil, fmt('[%s] = %s is not keyed by a metric: expected %s', tostring(k), describe(c),
        THRESHOLD_SHAPE), true
    end
    if type(c) ~= "table" and type(c) ~= "string" then
      return nil, fmt('%s has %s, expected a condition string like "< 5ms" (an operator, then '
        .. 'the value)', k, describe(c)), true, k
    end
    local list = type(c) == "table" and c or { c }
    local n = 0
    for ck in pairs(list) do
      if type(ck) == "number" then n = n + 1 end
    end
    if n == 0 then
      return nil, fmt('%s has %s, expected a condition like "< 5ms" or a list of them like '
        .. '{ "> 1ms", "< 5ms" }', k, next(list) == nil and "an empty table" or "no condition"), true, k
    end
    for ck, x in pairs(list) do
      if ck == "abort" then
        if type(x) ~= "boolean" then
          return nil, fmt("expected abort = true or false (%s has %s)", k, describe(x)), true, k
        end
      elseif ck == "abort_after" then
        if not duration(x) then
          return nil, fmt('expected abort_after as a duration like "10s" (%s has %s)', k,
            describe(x)), true, k
        end
      elseif type(ck) ~= "number" then
        return nil, fmt("expected conditions, abort and abort_after (%s has '%s')", k,
          tostring(ck)), true, k
      elseif ck ~= math.floor(ck) or ck < 1 or ck > n then
        -- a hole or a stray index: conditions would be silently lost
        return nil, fmt('expected a list of conditions like { "> 1ms", "< 5ms" } (%s has [%s])', k,
          tostring(ck)), true, k
      elseif type(x) ~= "string" then
        return nil, fmt('%s has %s, expected a condition string like "< 5ms" (an operator, then '
          .. 'the value)', k, describe(x)), true, k
      end
    end
  end
  return v
end

local function protocol(v)
  if type(v) == "string" then
    local ok, mod = pcall(require, "surge.proto." .. v)
    if not ok then return nil, "a protocol table or a built-in name (echo, dns, http, rtsp)" end
    -- A name is the module with no options; one that needs some (dns's
    -- queries) says so here, where the error can name the line.
    local made, p = pcall(mod.new or mod.tcp, {})
    if not made then
      return nil, fmt("\"%s\" is surge.proto.%s with no options, which it refuses (%s): write "
        .. "protocol = require(\"surge.proto.%s\").new { ... } with the options it needs",
        v, v, tostring(p):gsub("^[^\n]-:%d+: ", ""), v), true
    end
    v = p
  end
  if type(v) ~= "table" then
    return nil, "a protocol table, e.g. require(\"surge.proto.echo\").new { size = 64 }"
  end
  return v
end

-- A DNS server as people write it: 127.0.0.1, 127.0.0.1:5353, ::1, [::1]:53.
-- (C checks the address itself with inet_pton; this catches names and typos
-- here, where the error can name the line.)
local function dns_server(s)
  if type(s) ~= "string" then return false end
  local v4, port = s:match("^(%d+%.%d+%.%d+%.%d+):?(%d*)$")
  if not v4 then
    v4, port = s:match("^%[([%x:.]+)%]:?(%d*)$")
  end
  if not v4 and s:match("^[%x:.]+$") and select(2, s:gsub(":", "")) >= 2 then
    v4, port = s, ""
  end
  if not v4 then return false end
  return port == "" or (tonumber(port) >= 1 and tonumber(port) <= 65535)
end

local RESOLVER_EXPECTED = "{ servers = {\"127.0.0.1:5353\"}, timeout = \"2s\", tries = 3 }"
  .. " or a server list like \"127.0.0.1:5353,[::1]:53\""

-- resolver = { servers = {...}, timeout = "2s", tries = 3 }, or (command
-- line) "127.0.0.1:5353,[::1]:53". Normalized: servers joined by commas.
local function resolver(v)
  if type(v) == "string" then v = { servers = v } end
  if type(v) ~= "table" then return nil, RESOLVER_EXPECTED end
  for k in pairs(v) do
    if k ~= "servers" and k ~= "timeout" and k ~= "tries" then
      return nil, RESOLVER_EXPECTED .. " (unknown field '" .. tostring(k) .. "')"
    end
  end
  local out = {}
  local list = v.servers
  if type(list) == "string" then
    local t = {}
    for item in list:gmatch("[^,%s]+") do t[#t + 1] = item end
    list = t
  end
  if list ~= nil then
    if type(list) ~= "table" or #list == 0 then
      return nil, RESOLVER_EXPECTED .. " (servers: a list of IP addresses)"
    end
    for i, srv in ipairs(list) do
      if not dns_server(srv) then
        return nil, fmt("servers to be IP addresses with an optional port, like "
          .. "\"127.0.0.1:5353\" or \"[::1]:53\" (entry %d is %s, not an IP address)",
          i, describe(srv))
      end
    end
    out.servers = table.concat(list, ",")
  end
  if v.timeout ~= nil then
    local t = units.duration(v.timeout)
    if not t or t <= 0 or t > 3600 then return nil, RESOLVER_EXPECTED .. " (timeout: a duration like 2s)" end
    out.timeout = t
  end
  if v.tries ~= nil then
    local n = tonumber(v.tries)
    if not n or n < 1 or n > 20 or n % 1 ~= 0 then
      return nil, RESOLVER_EXPECTED .. " (tries: a whole number from 1 to 20)"
    end
    out.tries = n
  end
  return out
end

-- resolve_every: a duration, "ttl" (the default: at each answer's TTL) or "never".
local function resolve_every(v)
  if v == "ttl" or v == "never" then return v end
  local s = units.duration(v)
  if not s or s <= 0 or s > MAX_DURATION then return nil, "a duration like 30s, \"ttl\" or \"never\"" end
  return s
end

-- Source addresses are parsed by the engine's own parser (engine/addrset.c)
-- through the FFI when surge runs the loader, so the scenario and the engine
-- cannot disagree; under plain LuaJIT (the Lua tests) only the shape is checked.
local addr_validate
do
  local ok, ffi = pcall(require, "ffi")
  if ok then
    pcall(ffi.cdef, "int addrset_validate(const char *spec, char *err, size_t errlen);")
    local found, fn = pcall(function() return ffi.C.addrset_validate end)
    if found then
      local buf = ffi.new("char[512]")
      addr_validate = function(spec)
        if fn(spec, buf, 512) < 0 then return ffi.string(buf) end
      end
    end
  end
end

local PICKS = "\"round-robin\", \"random\" or \"permutation\""
local picks = { ["round-robin"] = true, random = true, permutation = true }

local function pick(v)
  if picks[v] then return v end
  return nil, PICKS
end

-- "20000-29999", "20000" or 20000 -> "lo-hi"
local function ports(v)
  local lo, hi
  if type(v) == "number" then
    lo, hi = v, v
  elseif type(v) == "string" then
    local a, b = v:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
    if not a then a = v:match("^%s*(%d+)%s*$"); b = a end
    lo, hi = tonumber(a), tonumber(b)
  end
  if not lo or lo < 1 or hi > 65535 or lo > hi or lo % 1 ~= 0 or hi % 1 ~= 0 then
    return nil, "a port range like \"20000-29999\" (ports 1 to 65535, low to high)"
  end
  return fmt("%d-%d", lo, hi)
end

local ADDRS = "source addresses: \"10.0.0.1\", \"10.0.0.1-10.0.0.9\", \"10.0.0.0/24\", " ..
  "\"2001:db8::/120\", a list of them, and optionally pick = " .. PICKS .. ", ports = \"lo-hi\""

-- bind = "10.0.0.0/24" | { "10.0.0.1", "2001:db8::/120", pick = ..., ports = ... }
-- -> { spec = "a,b", pick = ?, ports = ? }. A bad address is reported as the
-- engine's parser words it (third return value: the message is whole).
local function bind(v)
  local list, out = {}, {}
  if type(v) == "string" then
    list[1] = v
  elseif type(v) == "table" then
    for k, x in pairs(v) do
      if k == "pick" then
        out.pick = pick(x)
        if not out.pick then return nil, fmt("bind.pick must be %s, got %s", PICKS, describe(x)), true end
      elseif k == "ports" then
        out.ports = ports(x)
        if not out.ports then return nil, fmt("bind.ports must be a port range like \"20000-29999\", got %s", describe(x)), true end
      elseif type(k) ~= "number" then
        return nil, fmt("bind has no field '%s' (known: pick, ports, and addresses as list items)", tostring(k)), true
      end
    end
    for i, x in ipairs(v) do
      if type(x) ~= "string" then return nil, fmt("bind entry %d must be a string, got %s", i, describe(x)), true end
      list[i] = x
    end
  end
  if #list == 0 then return nil, ADDRS end
  out.spec = table.concat(list, ",")
  if addr_validate then
    local err = addr_validate(out.spec)
    if err then return nil, err, true end
  end
  return out
end

-- tls = true | false | { ca =, sni =, verify =, resume =, alpn = {...},
-- min_version =, max_version =, cert =, key = } -> { on = bool, ... } with
-- every field checked; versions as 0x0303 (TLS 1.2) / 0x0304 (TLS 1.3), alpn
-- joined by commas for the engine (engine/tls.c). Files must be readable
-- here, where the error can name the line.
local TLS_FIELDS = {
  ca = "a CA bundle file (PEM)", sni = "the server name to send and check",
  verify = "true or false (false: no certificate check, like --insecure)",
  resume = "true or false (resume sessions on reconnect)",
  alpn = 'a list of protocol names like { "dot" }',
  min_version = '"1.2" or "1.3"', max_version = '"1.2" or "1.3"',
  cert = "a client certificate file (PEM)", key = "the client key file (PEM)",
}
local TLS_VERSIONS = { ["1.2"] = 0x0303, ["1.3"] = 0x0304 }

local function tls_fields_list()
  local keys = {}
  for k in pairs(TLS_FIELDS) do keys[#keys + 1] = k end
  table.sort(keys)
  return table.concat(keys, ", ")
end

local function tls_opt(v)
  local b = boolean(v)
  if b ~= nil then return { on = b, verify = true, resume = true } end
  if type(v) ~= "table" then
    return nil, "true, false or a table like { ca = \"ca.pem\", sni = \"dns.example\" } (fields: "
      .. tls_fields_list() .. ")"
  end
  local out = { on = true, verify = true, resume = true }
  for k, x in pairs(v) do
    local what = TLS_FIELDS[k]
    if not what then
      return nil, fmt("tls has no field '%s' (known: %s)", tostring(k), tls_fields_list()), true
    end
    local bad = fmt("tls.%s must be %s, got %s", k, what, describe(x))
    if k == "verify" or k == "resume" then
      local bv = boolean(x)
      if bv == nil then return nil, bad, true end
      out[k] = bv
    elseif k == "min_version" or k == "max_version" then
      local ver = TLS_VERSIONS[tostring(x)] or TLS_VERSIONS[fmt("%.1f", tonumber(x) or 0)]
      if not ver then return nil, bad, true end
      out[k] = ver
    elseif k == "alpn" then
      local list = type(x) == "string" and { x } or x
      if type(list) ~= "table" or #list == 0 then return nil, bad, true end
      for i, name in ipairs(list) do
        if type(name) ~= "string" or #name < 1 or #name > 255 or name:find(",", 1, true) then
          return nil, fmt("tls.alpn entry %d must be a protocol name of 1 to 255 bytes "
            .. "without commas, got %s", i, describe(name)), true
        end
      end
      out.alpn = table.concat(list, ",")
    else
      if type(x) ~= "string" or x == "" then return nil, bad, true end
      if k ~= "sni" then
        local f = io.open(x, "rb")
        if not f then return nil, fmt("tls.%s: cannot read '%s' (%s)", k, x, what), true end
        f:close()
      end
      out[k] = x
    end
  end
  if out.key and not out.cert then
    return nil, "tls.key needs tls.cert (the client certificate it goes with)", true
  end
  if out.min_version and out.max_version and out.min_version > out.max_version then
    return nil, "tls.min_version is above tls.max_version", true
  end
  return out
end

-- samples = "FILE" or { file = "FILE", every = N }: the per-request log.
local SAMPLES = 'a file name, or { file = "samples.bin", every = 100 }'
local function samples(v)
  if type(v) == "string" and v ~= "" then return { file = v, every = 1 } end
  if type(v) ~= "table" then return nil, SAMPLES end
  for k in pairs(v) do
    if k ~= "file" and k ~= "every" then
      return nil, fmt("samples has no field '%s' (known: file, every)", tostring(k)), true
    end
  end
  if type(v.file) ~= "string" or v.file == "" then return nil, SAMPLES end
  local every = v.every == nil and 1 or number(v.every)
  if not every or every < 1 or every ~= math.floor(every) or every > U32 then
    return nil, fmt("samples.every must be a whole number from 1 to %d, got %s", U32, describe(v.every)), true
  end
  return { file = v.file, every = every }
end

-- connection_lifetime = "30s" or { "30s", jitter = "5s" }: each connection
-- is recycled at that age, give or take up to the jitter (uniformly); think
-- = "1s" or { "1s", jitter = "250ms" } the same for each pause, so
-- connections a stall lined up do not stay in step.
local function jittered(name, example, zero_ok, what)
  local want = fmt('a duration like "%s", or { "%s", jitter = "%s" }', example[1], example[1], example[2])
  return function(v)
    if type(v) ~= "table" then
      local s = duration(v)
      if not s or (s == 0 and not zero_ok) then return nil, want end
      return { age = s, jitter = 0 }
    end
    for k in pairs(v) do
      if k ~= 1 and k ~= "jitter" then
        return nil, fmt("%s has no field '%s' (known: the duration first, jitter)", name, tostring(k)), true
      end
    end
    local age, jitter = duration(v[1]), duration(v.jitter or 0)
    if not age or age <= 0 then return nil, want end
    if not jitter or jitter >= age then
      return nil, fmt("%s's jitter must be a duration shorter than %s (%gs), got %s",
        name, what, age, describe(v.jitter)), true
    end
    return { age = age, jitter = jitter }
  end
end
local lifetime = jittered("connection_lifetime", { "30s", "5s" }, false, "the age")
local think = jittered("think", { "1s", "250ms" }, true, "the pause")

-- The options a scenario may set. Issues to come add theirs here.
local schema = {
  target = { targets, "where to connect" },
  protocol = { protocol, "what to speak" },
  -- 0 passes here and is refused with its reason after (a ramp may reach 0)
  connections = { count_or_ramp(0, U32, 1), "connections to keep open" },
  rate = { rate_or_ramp, "requests per second in total (open model)" },
  arrival = { one_of("uniform", "poisson"), "how requests are spaced in the open model" },
  start = { one_of("connected", "now"),
            "traffic after the connections are open (default when their number is constant), or at once" },
  duration = { duration, "how long to run (with requests: at most this long)" },
  requests = { positive_int(2 ^ 53), "exactly this many requests, then drain (open model: the schedule's first N)" },
  workers = { workers, "worker processes" },
  pipeline = { positive_int(65535), "requests in flight per connection" },
  timeout = { wait_time, "request timeout" },
  connect_timeout = { wait_time, "connect timeout" },
  connect_rate = { positive_number(MAX_RATE), "new connections per second" },
  connection_rate = { positive_number(MAX_RATE), "new connections per second as the workload (with requests_per_connection or connection_lifetime; connections caps how many are open)" },
  requests_per_connection = { positive_int(U32), "close each connection after this many requests (the pool opens a new one)" },
  connection_lifetime = { lifetime, "close each connection at this age, e.g. \"30s\" or { \"30s\", jitter = \"5s\" }" },
  think = { think, "closed model: pause after each answer, e.g. \"1s\" or { \"1s\", jitter = \"250ms\" }" },
  drain = { duration, "after the end, how long answers may still arrive" },
  backlog = { positive_int(U32), "open model: requests that may wait for a free connection" },
  pace_window = { pace_window, "open model: how late a request may leave to share a wake-up with those due after it (default: the time for five more to fall due, 30us-60us, above ~17k/s per worker, or for the next one, up to 80us, down to 12.5k/s; \"0s\" sends each at its time)" },
  seed = { positive_int(2 ^ 53), "seed for random choices (Poisson arrivals, random IDs)" },
  latency = { boolean, "print the full latency distribution" },
  progress = { one_of("auto", "on", "off"), "progress line" },
  quiet = { boolean, "no report on stdout" },
  json = { str, "write the report as JSON to this file" },
  hlog = { str, "write an HdrHistogram interval log to this file" },
  html = { str, "write an HTML report to this file" },
  samples = { samples, "write one record per request to this file (surge samples FILE --csv reads it)" },
  samples_every = { positive_int(U32), "with samples: record 1 request in this many" },
  resolver = { resolver, "DNS servers for target names (default: the system's)" },
  family = { one_of("any", "ipv4", "ipv6"), "which addresses of a target name to use" },
  resolve_every = { resolve_every, "re-resolve target names this often (default: at the TTL)" },
  bind = { bind, "source addresses to connect from" },
  tls = { tls_opt, "TLS for every target: true, or { ca =, sni =, verify =, resume =, alpn =, "
          .. "min_version =, max_version =, cert =, key = }" },
  ports = { ports, "local port range each connection's port comes from" },
  pick = { pick, "how sources are chosen: round-robin, random, permutation" },
  name = { str, "a name for reports" },
  description = { str, "a description for reports" },
  thresholds = { thresholds, "pass/fail conditions checked at the end (exit code 3), or each second with abort = true" },
}

M.schema = schema

-- Options of message protocols that a session protocol cannot honour: what
-- each does, and what to write instead.
local SESSION_REFUSED = {
  rate = { "paces requests (the open model)",
    "leave it out; pace sessions with connections (a ramp) and connect_rate" },
  arrival = { "spaces the open model's requests", "leave it out" },
  requests = { "counts requests", "set a duration instead" },
  pipeline = { "sets requests in flight per connection", "leave it out" },
  think = { "pauses after each answer (the closed model)", "pause inside the session (conn:sleep)" },
  backlog = { "holds the open model's requests while no connection is free", "leave it out" },
  pace_window = { "batches the open model's sends", "leave it out" },
  requests_per_connection = { "closes a connection after its requests",
    "a session closes its connection when it ends (rtsp.reader: after its watch)" },
  connection_lifetime = { "closes a connection at an age, between requests",
    "a session closes its connection when it ends (rtsp.reader: after its watch)" },
  connection_rate = { "opens connections that close after their requests or at an age",
    "sessions end by themselves and the pool opens the next: set connect_rate" },
  samples = { "logs one record per request", "a session sends none: its counters and metrics "
    .. "(rtsp.*, surge.metric) are in the report, per second in --hlog" },
  samples_every = { "thins the per-request log", "leave it out" },
}
local SESSION_REFUSED_ORDER = {}
for k in pairs(SESSION_REFUSED) do SESSION_REFUSED_ORDER[#SESSION_REFUSED_ORDER + 1] = k end
table.sort(SESSION_REFUSED_ORDER)

-- The flags of `surge run` that set an option, for the messages that blame
-- the command line (engine/run.c run_keys; -o KEY=VALUE sets any).
local CLI_FLAGS = {
  connections = "-c", duration = "-d", requests = "-n", rate = "-r", workers = "-w", pipeline = "-p",
  timeout = "-t", target = "--target", resolver = "--resolver", bind = "--bind",
  ports = "--ports", pick = "--pick", json = "--json", hlog = "--hlog", html = "--html",
  tls = "--tls / --tls-ca / --sni / --insecure",
  samples = "--samples", samples_every = "--samples-every",
}

-- " (-c / -o connections=)": the flags that set an option from the command line.
local function cli_flag(k, origin)
  if origin ~= "cli" then return "" end
  return fmt(" (%s-o %s=)", CLI_FLAGS[k] and (CLI_FLAGS[k] .. " / ") or "", k)
end

-- Where each `key =` (or `["key"] =`) is written in the scenario: a small
-- scanner that skips strings and comments and counts braces, so a key in a
-- nested table (echo.new { pipeline = 1 }) is told apart from the scenario's
-- own, and a key later on a line (connections = 5, timeout = "1x") is found.
-- -> list of { key, line, depth, ret }, count of `return`s at depth 0: ret
-- numbers the `return` at depth 0 whose table the key sits directly in (the
-- last return is the scenario's).
local function assignments(source)
  local out, i, n, line, depth = {}, 1, #source, 1, 0
  local ret_open, ret_depth, ret_id, rets = false, nil, nil, 0
  local find, sub = string.find, string.sub
  -- Skips a long bracket [==[ ... ]==] at `at`: the position after it, or nil.
  local function long_bracket(at)
    local eq = source:match("^%[(=*)%[", at)
    if not eq then return nil end
    local _, e = find(source, "]" .. eq .. "]", at, true)
    e = e or n
    line = line + select(2, sub(source, at, e):gsub("\n", ""))
    return e + 1
  end
  while i <= n do
    local c = sub(source, i, i)
    local opened = false
    if c == "\n" then
      line, i = line + 1, i + 1
      opened = ret_open
    elseif c == "-" and sub(source, i + 1, i + 1) == "-" then
      i = long_bracket(i + 2) or find(source, "\n", i, true) or n + 1
      opened = ret_open
    elseif c == "\"" or c == "'" then
      local j = i + 1
      while j <= n do
        local d = sub(source, j, j)
        if d == "\\" then j = j + 1 elseif d == c or d == "\n" then break end
        j = j + 1
      end
      i = j + 1
    elseif c == "[" then
      local key, e = source:match("^%[%s*[\"']([^\"'\n]*)[\"']%s*%]%s*=()", i)
      if key and sub(source, e, e) ~= "=" then
        out[#out + 1] = { key = key, line = line, depth = depth, ret = depth == ret_depth and ret_id }
        i = e
      else
        i = long_bracket(i) or i + 1
      end
    elseif c == "{" then
      depth, i = depth + 1, i + 1
      if ret_open then ret_depth, ret_id = depth, rets end
    elseif c == "}" then
      if depth == ret_depth then ret_depth = nil end
      depth, i = depth - 1, i + 1
    elseif find(c, "[%a_]") then
      local _, e = find(source, "^[%a_][%w_]*", i)
      local word = sub(source, i, e)
      local eq = source:match("^%s*=()", e + 1)
      if eq and sub(source, eq, eq) ~= "=" then
        out[#out + 1] = { key = word, line = line, depth = depth, ret = depth == ret_depth and ret_id }
      end
      opened = word == "return" and depth == 0
      if opened then rets = rets + 1 end
      i = e + 1
    elseif find(c, "%s") then
      opened, i = ret_open, i + 1
    else
      i = i + 1
    end
    ret_open = opened
  end
  return out, rets
end

local scanned_source, scanned, scanned_rets

-- The line where `key = ...` is written in the scenario, or nil: directly
-- in the returned table if it is there, else where it sits least deep.
local function line_of(source, key)
  if not source then return nil end
  if source ~= scanned_source then
    scanned, scanned_rets = assignments(source)
    scanned_source = source
  end
  local best
  for _, a in ipairs(scanned) do
    if a.key == key then
      if a.ret == scanned_rets then return a.line end
      if not best or a.depth < best.depth then best = a end
    end
  end
  return best and best.line
end

-- The file's bytes, or nil and why not (the system's words: "No such file
-- or directory", "Permission denied", "Is a directory").
local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s, rerr = f:read("*a")
  f:close()
  if not s then return nil, path .. ": " .. tostring(rerr) end
  return s
end

-- "did you mean 'connections'?" for a near miss, else the sorted list.
local function known_list(unknown)
  return keys.suggest(unknown, schema)
end

-- A number that is whole and within [lo, hi] (NaN is not).
local function whole(v, lo, hi)
  return type(v) == "number" and v >= lo and v <= hi and v == math.floor(v)
end

-- What prepare() made for each target, one key's values (list[i] for target
-- i), as one: nil when every target's is the same (list[1] stands); the
-- list when they are strings that differ (request's constant bytes: the
-- engine sends each connection its target's); a function choosing by
-- ctx.target when they are callbacks (ctx first); false and the first
-- target whose value is of another kind (of n: a nil is a kind too).
local function per_target(list, n)
  local first = list[1]
  local same, kind = true, type(first)
  for i = 2, n do
    if type(list[i]) ~= kind then return false, i end
    same = same and list[i] == first
  end
  if same then return nil end
  if kind == "string" then return list end
  if kind ~= "function" then return nil end
  -- Not a tail call: the chooser's frame stays, so a raised error is named
  -- as the callback's (runtime.lua's fns.raised).
  return function(ctx, ...)
    local a, b, c = (list[ctx.target] or first)(ctx, ...)
    return a, b, c
  end
end
-- The callbacks that take ctx first, so a connection's target can choose.
local PER_TARGET = { "request", "response", "connect", "close", "expired" }

-- Normalizes the protocol table; errors name "protocol.<field>".
local PROTOCOL_KEYS = { name = true, shape = true, session = true, framing = true, request = true,
  response = true, match = true, pipeline = true, max_message = true, prepare = true,
  connect = true, close = true, transport = true, expired = true, retries = true,
  retry_after = true, tcp_fallback = true }
local FRAMING_KEYS = {
  fixed = { kind = true, size = true }, u16 = { kind = true },
  delimiter = { kind = true, delim = true }, lua = { kind = true, fn = true },
  http = { kind = true, head = true, max_head = true, max_headers = true },
  datagram = { kind = true },
}

local function check_protocol(p, pipeline)
  local bad, hint = keys.unknown(p, PROTOCOL_KEYS)
  if bad then return nil, "protocol", "no key '" .. bad .. "' (" .. hint .. ")", true end
  local shape = p.shape or (p.session and "session") or "message"
  if shape ~= "message" and shape ~= "session" then
    return nil, "protocol.shape", "\"message\" or \"session\""
  end
  local out = { name = type(p.name) == "string" and p.name or "custom", shape = shape }
  local transport = p.transport or "tcp"
  if transport ~= "tcp" and transport ~= "udp" then
    return nil, "protocol.transport", "\"tcp\" or \"udp\""
  end
  out.transport = transport
  for _, k in ipairs { "retries", "retry_after", "tcp_fallback" } do
    if p[k] ~= nil and transport ~= "udp" then
      return nil, "protocol." .. k, "nothing with transport = \"" .. transport .. "\" (a stream "
        .. "neither loses nor truncates a message): only transport = \"udp\" retries"
    end
  end
  if p.retries ~= nil and not whole(p.retries, 0, 255) then
    return nil, "protocol.retries", "a whole number of resends from 0 to 255"
  end
  if p.retry_after ~= nil and not (type(p.retry_after) == "number" and p.retry_after > 0) then
    return nil, "protocol.retry_after", "seconds each try waits, above 0"
  end
  if p.tcp_fallback ~= nil and type(p.tcp_fallback) ~= "boolean" then
    return nil, "protocol.tcp_fallback", "true or false (a response may return key, nil, \"tcp\")"
  end
  out.retries, out.retry_after, out.tcp_fallback = p.retries, p.retry_after, p.tcp_fallback
  if transport == "udp" then
    -- One message per datagram: no framing, no byte stream for a session.
    if shape ~= "message" then
      return nil, "protocol.shape", "\"message\" with transport = \"udp\" (sessions need a stream)"
    end
    if p.framing ~= nil and not (type(p.framing) == "table" and p.framing.kind == "datagram") then
      return nil, "protocol.framing", "nothing (or { kind = \"datagram\" }) with transport = "
        .. "\"udp\": each datagram is one message"
    end
  end
  if shape == "session" then
    if type(p.session) ~= "function" then
      return nil, "protocol.session", "a function(conn) run as a coroutine per connection"
    end
    out.session = p.session
    return out
  end
  local fr = p.framing
  if transport == "udp" then
    fr = { kind = "datagram" }
  elseif type(fr) ~= "table" then
    return nil, "protocol.framing", "{ kind = \"fixed\"|\"u16\"|\"delimiter\"|\"lua\", ... }"
  end
  local fkeys = FRAMING_KEYS[fr.kind]
  if fkeys then
    bad, hint = keys.unknown(fr, fkeys)
    if bad then
      return nil, "protocol.framing", "no key '" .. bad .. "' for kind \"" .. fr.kind .. "\" ("
        .. hint .. ")", true
    end
  end
  if fr.kind == "fixed" then
    if not whole(fr.size, 1, 2 ^ 30) then
      return nil, "protocol.framing.size", "a message size in bytes from 1 to 1073741824"
    end
  elseif fr.kind == "delimiter" then
    if type(fr.delim) ~= "string" or #fr.delim < 1 or #fr.delim > 16 then
      return nil, "protocol.framing.delim", "a delimiter string of 1 to 16 bytes"
    end
  elseif fr.kind == "lua" then
    if type(fr.fn) ~= "function" then
      return nil, "protocol.framing.fn", "a function(ptr, len) returning a message length"
    end
  elseif fr.kind == "http" then
    if fr.head ~= nil and type(fr.head) ~= "boolean" then
      return nil, "protocol.framing.head", "true or false (the requests are HEAD)"
    end
    for _, k in ipairs { "max_head", "max_headers" } do
      if fr[k] ~= nil and not whole(fr[k], 1, 2 ^ 24) then
        return nil, "protocol.framing." .. k, "a whole number from 1 to 16777216"
      end
    end
  elseif fr.kind ~= "u16" and not (fr.kind == "datagram" and transport == "udp") then
    return nil, "protocol.framing.kind", "\"fixed\", \"u16\", \"delimiter\", \"lua\" or \"http\""
  end
  out.framing = fr
  if type(p.request) ~= "string" and type(p.request) ~= "function" then
    return nil, "protocol.request", "constant request bytes (a string) or a function(ctx, buf, cap)"
  end
  if p.response ~= nil and type(p.response) ~= "function" then
    return nil, "protocol.response", "a function(ctx, ptr, len) returning key, err"
  end
  if p.expired ~= nil and type(p.expired) ~= "function" then
    return nil, "protocol.expired", "a function(ctx, key) told of a request that timed out (UDP)"
  end
  out.request, out.response, out.expired = p.request, p.response, p.expired
  for _, k in ipairs { "connect", "close" } do
    if p[k] ~= nil and type(p[k]) ~= "function" then
      return nil, "protocol." .. k, k == "connect" and "a function(ctx) called as each connection opens"
        or "a function(ctx, why) called as each connection closes"
    end
    out[k] = p[k]
  end
  out.match = p.match or "fifo"
  if out.match ~= "fifo" and out.match ~= "key" then
    return nil, "protocol.match", "\"fifo\" or \"key\""
  end
  if out.match == "key" and not out.response then
    return nil, "protocol.response", "a function returning the key (match = \"key\")"
  end
  out.pipeline = pipeline or p.pipeline or 1
  if type(out.pipeline) ~= "number" or out.pipeline < 1 or out.pipeline > 65535
     or out.pipeline % 1 ~= 0 then
    return nil, "protocol.pipeline", "a whole number from 1 to 65535"
  end
  if p.max_message ~= nil and not whole(p.max_message, 1, 2 ^ 30) then
    return nil, "protocol.max_message", "a size in bytes from 1 to 1073741824"
  end
  out.max_message = p.max_message
  -- Every answer would be oversized: say so at load, not as errors.
  local max = p.max_message or 2 ^ 20 -- lua_engine.c's default
  if fr.kind == "fixed" and fr.size > max then
    return nil, "protocol.framing.size", ("at most max_message (%d bytes): raise "
      .. "protocol.max_message to %d, or the answers are all protocol.oversized"):format(max, fr.size)
  end
  return out
end

-- Compiles a number or a ramp into segments { t0, t1, v0, v1 } (seconds),
-- each value at most max; or nil, what went wrong, and where the fault is
-- written when that is not the option's line (a ramp.fn's function).
local function segments(v, dur, max)
  if not ramp.is_ramp(v) then return { { 0, dur, v, v } } end
  local segs, err, at = ramp.compile(v, dur)
  if not segs then return nil, err, at end
  for _, sg in ipairs(segs) do
    for _, x in ipairs { sg[3], sg[4] } do
      if not (x >= 0 and x <= max) then
        return nil, fmt("%s: a value of %s at %gs; values go from 0 to %.0f", tostring(v),
          tostring(x), sg[1], max)
      end
    end
  end
  return segs
end

local function constant(segs)
  for _, s in ipairs(segs) do
    if s[3] ~= segs[1][3] or s[4] ~= segs[1][3] then return false end
  end
  return true
end

local function peak(segs)
  local m = 0
  for _, s in ipairs(segs) do m = math.max(m, s[3], s[4]) end
  return math.ceil(m - 1e-9)
end

-- The message for error(value) with a value that is not a string (error()
-- or error({ code = 1 })): Lua adds no file:line to those, so the frame of
-- the scenario file that raised it gives the line. Runs as the xpcall
-- handler, while the scenario's frames are still on the stack.
local function raised(e, path)
  local where = path .. ":"
  for level = 3, 40 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source == "@" .. path and info.currentline > 0 then
      where = where .. info.currentline .. ":"
      break
    end
  end
  return where .. " the scenario " .. raised_what(e)
end

-- load(path, overrides) -> cfg, or nil and a message for people.
-- `surge run http://host:port/path` (a URL instead of a file): the built-in
-- module for the scheme with wrk's defaults (10 connections, 10 s), so a wrk
-- user's first command works; every flag still applies on top.
-- -o protocol.FIELD=VALUE on a URL run: the built-in module's options, as
-- the command line gives them (text), made the type the module wants.
local URL_PROTO_FIELDS = {
  http = { method = "text", path = "text", body = "text", pipeline = "count",
           max_message = "size", max_head = "size", max_headers = "count" },
  echo = { size = "size", payload = "text", pipeline = "count", verify = "boolean" },
}

local function url_proto_opts(module, given, base)
  local fields = URL_PROTO_FIELDS[module]
  for _, kv in ipairs(given) do
    local k, v = kv[1], kv[2]
    local kind = fields[k]
    if not kind then
      local names = {}
      for n in pairs(fields) do names[#names + 1] = n end
      table.sort(names)
      return nil, fmt("command line: -o protocol.%s: the %s module of a URL run has no option "
        .. "'%s' (it takes %s)", k, module, k, table.concat(names, ", "))
    end
    local x, e = v, nil
    if kind == "count" then
      x = units.count(v)
      if not x or x ~= math.floor(x) then e = "a whole number" end
    elseif kind == "size" then
      x = units.size(v)
      if not x then e = "a size in bytes like 64, 4k or 16MiB" end
    elseif kind == "boolean" then
      x = boolean(v)
      if x == nil then e = "true or false" end
    end
    if e then
      return nil, fmt("command line: -o protocol.%s: expected %s, got '%s'", k, e, v)
    end
    base[k] = x
  end
  return base
end

local function url_scenario(url, headers, popts)
  local t, err = target.parse(url)
  if not t then return nil, err end
  local proto
  if t.scheme == "http" or t.scheme == "https" then
    local o, perr = url_proto_opts("http", popts, { path = t.path, headers = headers })
    if not o then return nil, perr end
    local ok, p = pcall(require("surge.proto.http").client, o)
    if not ok then return nil, "command line: " .. tostring(p):gsub("^.-http%.client: ", "") end
    proto = p
  elseif (t.scheme == "tcp" or t.scheme == "tls") and not headers then
    local o, perr = url_proto_opts("echo", popts, {})
    if not o then return nil, perr end
    local ok, p = pcall(require("surge.proto.echo").new, o)
    if not ok then return nil, "command line: " .. tostring(p):gsub("^.-echo: ", "echo: ") end
    proto = p
  else
    -- Not the URL itself: it may carry a password.
    if headers then return nil, "command line: -H sets HTTP headers; " .. t.scheme .. ":// is not http(s)://" end
    return nil, fmt("command line: a URL runs http:// or https:// (HTTP/1.1 GET), tcp:// or tls:// (echo); "
      .. "write a scenario file for %s://", t.scheme)
  end
  -- wrk's 10 s applies once the options are in (M.load): -n alone is a count.
  return { target = url, protocol = proto, connections = 10 }
end

function M.load(path, overrides)
  -- -e KEY=VALUE: surge.env, set before the scenario runs (k6's __ENV).
  local env, headers, popts = {}, nil, {}
  for _, kv in ipairs(overrides or {}) do
    local pfield = type(kv[1]) == "string" and kv[1]:match("^protocol%.(.+)$")
    if pfield then
      popts[#popts + 1] = { pfield, kv[2] }
    elseif kv[1] == "header" then
      local k, v = tostring(kv[2]):match("^([^:]+):%s*(.-)%s*$")
      if not k then
        return nil, fmt("command line: -H expects 'Name: value', got '%s'", kv[2])
      end
      headers = headers or {}
      -- A repeated name replaces the earlier one, as with wrk's -H; names
      -- are case-insensitive (RFC 9110 5.1): -H 'Host: a' -H 'host: b' is b.
      for name in pairs(headers) do
        if name:lower() == k:lower() then headers[name] = nil end
      end
      headers[k] = v
    elseif kv[1] == "env" then
      local k, v = tostring(kv[2]):match("^([%a_][%w_]*)=(.*)$")
      if not k then
        return nil, fmt("command line: -e expects KEY=VALUE with KEY a name, got '%s'", kv[2])
      end
      env[k] = v
    end
  end
  require("surge").env = env
  -- A URL instead of a file (unless a file has that name).
  local is_url = path:match("^%a[%w+.-]*://") and not read_file(path)
  -- require finds modules beside the scenario file too (after surge's own,
  -- which they cannot shadow).
  local dir = path:match("^(.*)/[^/]*$") or "."
  if not is_url and not package.path:find(";" .. dir .. "/?.lua", 1, true) then
    package.path = package.path .. ";" .. dir .. "/?.lua"
  end
  local source, ok, opts
  if is_url then
    source = ""
    opts, ok = url_scenario(path, headers, popts)
    if not opts then return nil, ok end
  else
    local rerr
    source, rerr = read_file(path)
    if not source then
      -- io.open's message is "PATH: reason"; the reason is what matters
      local why = tostring(rerr):match(": ([^:]+)$") or tostring(rerr)
      return nil, fmt("cannot read scenario '%s': %s", path, why)
    end
    local chunk, err = loadstring(source, "@" .. path)
    if not chunk then return nil, err end
    ok, opts = xpcall(chunk, function(e)
      -- errors raised inside the scenario keep their file:line
      if type(e) == "string" then return e end
      return raised(e, path)
    end)
    if not ok then return nil, opts end
  end
  if type(opts) ~= "table" then
    return nil, fmt("%s: the scenario must return a table of options (got %s)", path, type(opts))
  end

  local values, origin = {}, {}
  for k, v in pairs(opts) do
    if type(k) ~= "string" or not schema[k] then
      local line = type(k) == "string" and line_of(source, k)
      return nil, fmt("%s:%s unknown option '%s' (%s)", path,
        line and (line .. ":") or "", tostring(k), known_list(k))
    end
    values[k], origin[k] = v, "file"
  end
  local cli_thresholds = {}
  for _, kv in ipairs(overrides or {}) do
    local k, v = kv[1], kv[2]
    local tls_field = type(k) == "string" and k:match("^tls%.(.+)$")
    if k == "header" and not is_url then
      return nil, "command line: -H sets a request header of a URL run (surge run http://...); "
        .. "a scenario file sets headers in its protocol"
    elseif type(k) == "string" and k:match("^protocol%.") and not is_url then
      return nil, fmt("command line: -o %s sets an option of a URL run's built-in module (surge "
        .. "run http://...); a scenario file sets its protocol's options itself (pass values "
        .. "with -e KEY=VALUE, read as surge.env.KEY)", k)
    elseif k == "env" or k == "header" or (type(k) == "string" and k:match("^protocol%.")) then
      -- read above
    elseif tls_field then
      -- --tls-ca, --sni, --insecure (and -o tls.FIELD=VALUE) set one field
      -- of the scenario's tls table, which they turn on.
      local merged = {}
      if type(values.tls) == "table" then
        for fk, fv in pairs(values.tls) do merged[fk] = fv end
      end
      merged[tls_field] = v
      values.tls, origin.tls = merged, "cli"
    elseif k == "threshold" or k == "threshold_abort" then -- repeatable: adds to the scenario's
      cli_thresholds[#cli_thresholds + 1] = { condition = v, abort = k == "threshold_abort",
        abort_after = 0, where = k == "threshold" and "--threshold" or "--threshold-abort" }
    elseif not schema[k] then
      return nil, fmt("command line: unknown option '%s' (%s)", k, known_list(k))
    elseif k == "rate" and v == "closed" then
      -- -r closed: the closed model, whatever rate the file set.
      values.rate, origin.rate = nil, nil
    else
      -- --resolver ADDR replaces the servers only: the file's timeout and
      -- tries still hold.
      -- --tls keeps the tls table --tls-ca or the file made (it is on).
      if k == "tls" and boolean(v) == true and type(values.tls) == "table" then
        v = values.tls
      end
      if k == "resolver" and type(v) == "string" and type(values.resolver) == "table" then
        local merged = {}
        for fk, fv in pairs(values.resolver) do merged[fk] = fv end
        merged.servers = v
        v = merged
      end
      values[k], origin[k] = v, "cli"
    end
  end
  -- A URL run lasts wrk's 10 s unless the command line gave a length: a
  -- duration, or a count of requests (which then ends it alone).
  if is_url and values.duration == nil and values.requests == nil then
    values.duration, origin.duration = "10s", "file"
  end

  -- "command line:" or "FILE:LINE:" (just "FILE:" when the line is unknown).
  local function where(k)
    if origin[k] == "cli" then return "command line:" end
    local line = line_of(source, k)
    return path .. ":" .. (line and (line .. ":") or "")
  end

  local cfg = {}
  for k, v in pairs(values) do
    local norm, expected, whole, at = schema[k][1](v)
    if norm == nil then
      local where
      if origin[k] == "cli" then
        where = "command line:"
      else
        local line = at and line_of(source, at) or line_of(source, k)
        where = path .. ":" .. (line and (line .. ":") or "")
      end
      local msg = whole and fmt("%s option '%s': %s", where, k, expected)
        or fmt("%s option '%s': expected %s, got %s", where, k, expected, describe(v))
      return nil, msg .. cli_flag(k, origin[k])
    end
    cfg[k] = norm
  end

  if not cfg.target then
    return nil, fmt("%s: option 'target' is required (e.g. target = \"tcp://127.0.0.1:7000\")", path)
  end
  if not cfg.protocol then
    return nil, fmt("%s: option 'protocol' is required (e.g. protocol = require(\"surge.proto.echo\").new {})", path)
  end
  local pr = cfg.protocol
  local by_target, first_of = nil, {}
  if type(pr.prepare) == "function" then
    -- The module finishes its table once the target is known (HTTP's Host),
    -- for each target: their requests may differ (Host, Authorization).
    local prepare, per_key = pr.prepare, {}
    for _, k in ipairs(PER_TARGET) do per_key[k] = {} end
    for i, t in ipairs(cfg.target) do
      local ok, p2, perr = pcall(prepare, t)
      if ok and p2 and type(p2) ~= "table" then
        ok, perr, p2 = true, fmt("its prepare() returned a %s: return the protocol table", type(p2)), nil
      end
      if not ok or not p2 then
        local why = tostring(ok and perr or p2)
        -- A URL run's path is the URL, its password too: not repeated.
        if is_url then return nil, "command line: " .. why:gsub("^.-http%.client: ", "") end
        local line = line_of(source, "protocol")
        return nil, fmt("%s:%s option 'protocol': %s%s", path, line and (line .. ":") or "",
          #cfg.target > 1 and fmt("target %d (%s): ", i, target.shown(t.url)) or "", why)
      end
      -- Read as made: a prepare() may hand back one table each time, so
      -- the first target's keys are copied before the next call.
      if i == 1 then
        pr = {}
        for k, v in pairs(p2) do pr[k] = v end
      end
      for _, k in ipairs(PER_TARGET) do per_key[k][i] = p2[k] end
    end
    for _, k in ipairs(PER_TARGET) do
      local one, other = per_target(per_key[k], #cfg.target)
      if one == false then
        local line = line_of(source, "protocol")
        return nil, fmt("%s:%s option 'protocol': its prepare() made %s a %s for target 1 and "
          .. "a %s for target %d: make it the same kind for every target", path,
          line and (line .. ":") or "", k, type(per_key[k][1]), type(per_key[k][other]), other)
      end
      pr[k] = per_key[k][1]
      if type(one) == "function" then
        pr[k] = one
        first_of[one] = per_key[k][1]
      elseif one and k == "request" then
        by_target = one
      end
    end
  end
  local proto, field, expected, whole_msg = check_protocol(pr, cfg.pipeline)
  if not proto then
    local line = line_of(source, "protocol")
    return nil, fmt("%s:%s option '%s': %s%s", path, line and (line .. ":") or "",
      field, whole_msg and "" or "expected ", expected)
  end
  -- A session protocol runs one session per connection, to its end: the
  -- engine sends it no requests, so what paces, counts, pipelines or
  -- recycles requests would be silently ignored (or, for rate, judged
  -- against a schedule no session follows: "achieved 0%").
  if proto.shape == "session" then
    for _, k in ipairs(SESSION_REFUSED_ORDER) do
      if values[k] ~= nil then
        return nil, fmt("%s option '%s': protocol '%s' runs sessions (one per connection, to "
          .. "its end), and %s %s: %s", where(k), k, proto.name, k, SESSION_REFUSED[k][1],
          SESSION_REFUSED[k][2]) .. cli_flag(k, origin[k])
      end
    end
  end
  -- Each try waits retry_after; all of them must fit the request timeout,
  -- which bounds every request (without retry_after the timeout is split).
  if proto.retry_after then
    local timeout, tries = cfg.timeout and units.duration(cfg.timeout) or 5, (proto.retries or 0) + 1
    if proto.retry_after * tries > timeout * (1 + 1e-9) then
      local line = line_of(source, "retry_after") or line_of(source, "protocol")
      return nil, fmt("%s:%s option 'protocol.retry_after': %d tries of %gs do not fit the request "
        .. "timeout of %gs: set timeout = \"%gs\" or a shorter retry_after", path,
        line and (line .. ":") or "", tries, proto.retry_after, timeout, proto.retry_after * tries)
    end
  end

  -- The protocol's transport and the targets' schemes must agree: a udp://
  -- target is never sent TCP, and a UDP protocol never a tcp:// one.
  for _, t in ipairs(cfg.target) do
    if t.transport == "udp" and proto.transport ~= "udp" then
      return nil, fmt("%s option 'target': '%s' is UDP but protocol '%s' speaks TCP (use a UDP "
        .. "protocol, e.g. dns.udp { ... }, or a tcp:// target)", where("target"), target.shown(t.url),
        proto.name) .. cli_flag("target", origin.target)
    end
    if proto.transport == "udp" and t.transport ~= "udp" and t.explicit and t.scheme ~= "dns" then
      return nil, fmt("%s option 'target': protocol '%s' speaks UDP but target '%s' is %s:// "
        .. "(write udp://%s:%d)", where("target"), proto.name, target.shown(t.url), t.scheme,
        t.host:find(":", 1, true) and ("[" .. t.host .. "]") or t.host, t.port)
        .. cli_flag("target", origin.target)
    end
  end

  local dur, unbounded = cfg.duration, false
  if not dur then
    dur = 0
    for _, k in ipairs { "rate", "connections" } do
      if ramp.is_ramp(cfg[k]) then dur = math.max(dur, ramp.duration(cfg[k]) or 0) end
    end
    -- A count with no duration runs until the count is sent: "unbounded"
    -- is the longest duration there is, and the report says so.
    if dur == 0 and cfg.requests then dur, unbounded = MAX_DURATION, true end
    if dur == 0 then dur = 10 end
  end
  if dur <= 0 then
    return nil, fmt("%s option 'duration': expected a duration > 0 like 10s, got %s", where("duration"),
      describe(values.duration)) .. cli_flag("duration", origin.duration)
  end
  if dur > MAX_DURATION then
    return nil, fmt("%s: the ramps last %gs, more than a year: set a shorter duration", path, dur)
  end

  -- A ramp that cannot be compiled is an error, never "no ramp": a nil rate
  -- would silently be a closed-model run at full speed.
  local compiled = {}
  for _, k in ipairs { "connections", "rate" } do
    if cfg[k] ~= nil then
      local segs, err, at = segments(cfg[k], dur, k == "rate" and MAX_RATE or U32)
      if not segs then
        local where = at and (at .. ":")
        if not where and origin[k] == "cli" then
          where = "command line:"
        elseif not where then
          local line = line_of(source, k)
          where = path .. ":" .. (line and (line .. ":") or "")
        end
        return nil, fmt("%s option '%s': %s", where, k, err) .. cli_flag(k, origin[k])
      end
      compiled[k] = segs
    end
  end
  -- A constant 0 connections sends nothing for the whole duration, then
  -- says no connection could be opened: refused now (a ramp may pass 0).
  if cfg.connections == 0 then
    local line = origin.connections == "file" and line_of(source, "connections")
    return nil, fmt("%s option 'connections': 0 would open nothing and send nothing: give 1 or "
      .. "more (a ramp may start or end at 0)", origin.connections == "cli" and "command line:"
      or (path .. ":" .. (line and (line .. ":") or ""))) .. cli_flag("connections", origin.connections)
  end
  -- TLS: a tls:// (rtsps://, https://) target always; every target when the
  -- tls option is on; never plaintext for a scheme that needs TLS. An
  -- http:// or rtsp:// target beside an https:// or rtsps:// one stays
  -- plaintext: the option is there to configure those (a CA), and the
  -- scheme of each says which is which.
  local tls = cfg.tls or { on = false, verify = true, resume = true }
  local twin_named = false
  for _, tg in ipairs(cfg.target) do
    twin_named = twin_named or tg.scheme == "https" or tg.scheme == "rtsps"
  end
  for i, tg in ipairs(cfg.target) do
    if tg.tls and cfg.tls and not cfg.tls.on then
      local line = origin.tls == "file" and line_of(source, "tls")
      return nil, fmt("%s option 'tls': false, but target %d (%s) needs TLS; its scheme is "
        .. "never run as plaintext", origin.tls == "cli" and "command line:"
        or (path .. ":" .. (line and (line .. ":") or "")), i, target.shown(tg.url))
    end
    tg.tls = tg.tls or (tls.on and not (twin_named and (tg.scheme == "http" or tg.scheme == "rtsp")))
  end
  tls.on = nil

  -- connection_rate: connections are the workload, opened at that rate from
  -- the start (connections caps how many are open at once), each closing
  -- after its requests or at its age, so the pool replaces it.
  if cfg.connection_rate then
    local line = line_of(source, "connection_rate")
    local where = origin.connection_rate == "cli" and "command line:" or
      (path .. ":" .. (line and (line .. ":") or ""))
    if not cfg.requests_per_connection and not cfg.connection_lifetime then
      return nil, fmt("%s option 'connection_rate': connections would never close: set "
        .. "requests_per_connection or connection_lifetime too", where)
    end
    if cfg.connect_rate then
      return nil, fmt("%s option 'connection_rate': it sets the connect rate itself: leave "
        .. "connect_rate out", where)
    end
  end
  proto.request_by_target = by_target
  -- A target's own callback is what its errors name, not the chooser.
  proto.callback_origin = next(first_of) and first_of or nil
  local conn = compiled.connections or segments(1, dur)
  local out = {
    target = cfg.target[1].url,
    targets = cfg.target,
    protocol = proto,
    connections = conn,
    max_connections = math.max(peak(conn), 1),
    rate = compiled.rate,
    arrival = cfg.arrival or "uniform",
    start = cfg.start or ((constant(conn) and not cfg.connection_rate) and "connected" or "now"),
    duration = dur,
    requests = cfg.requests,
    duration_unbounded = unbounded,
    workers = cfg.workers,
    timeout = cfg.timeout or 5,
    connect_timeout = cfg.connect_timeout or 5,
    connect_rate = cfg.connection_rate or cfg.connect_rate or 10000,
    requests_per_connection = cfg.requests_per_connection,
    connection_rate = cfg.connection_rate,
    connection_lifetime = cfg.connection_lifetime and cfg.connection_lifetime.age or nil,
    connection_jitter = cfg.connection_lifetime and cfg.connection_lifetime.jitter or nil,
    think = cfg.think and cfg.think.age or 0,
    think_jitter = cfg.think and cfg.think.jitter or nil,
    drain = cfg.drain or math.min(cfg.timeout or 5, 2),
    backlog = cfg.backlog or 100000,
    pace_window = cfg.pace_window,
    seed = cfg.seed or 1,
    latency = cfg.latency or false,
    progress = cfg.progress or "auto",
    quiet = cfg.quiet or false,
    json = cfg.json, hlog = cfg.hlog, html = cfg.html,
    samples_file = cfg.samples and cfg.samples.file or nil,
    samples_every = cfg.samples_every or (cfg.samples and cfg.samples.every) or 1,
    name = cfg.name or path,
    bind = cfg.bind and cfg.bind.spec or nil,
    pick = cfg.pick or (cfg.bind and cfg.bind.pick) or "round-robin",
    ports = cfg.ports or (cfg.bind and cfg.bind.ports) or nil,
    resolver = cfg.resolver or {},
    tls = tls,
    family = cfg.family or "any",
    resolve_every = cfg.resolve_every or "ttl",
    thresholds = {},
  }
  -- The scenario's, sorted so reports list them in the same order on every
  -- run, then the command line's in the order given.
  local keys = {}
  for k in pairs(cfg.thresholds or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local c = cfg.thresholds[k]
    local where = "command line"
    if origin.thresholds == "file" then
      where = path .. ":" .. (line_of(source, k) or line_of(source, "thresholds") or "?")
    end
    local list = type(c) == "table" and c or { c }
    for _, cond in ipairs(list) do
      out.thresholds[#out.thresholds + 1] = { metric = k, condition = cond, where = where,
        abort = list.abort == true, abort_after = duration(list.abort_after or 0) }
    end
  end
  for _, t in ipairs(cli_thresholds) do out.thresholds[#out.thresholds + 1] = t end
  return out
end

return M
