-- The `surge` module scripts use: named counters and latency metrics, the
-- monotonic clock, and log lines. Inside a worker these go straight to C
-- through the FFI (ids cached per name, so a call is a table lookup and a C
-- call); outside one (loading the scenario, unit tests) they are no-ops.
local ffi = require "ffi"

local M = {}

local W, C          -- the worker and the C namespace, once bound
local counter_ids, metric_ids = {}, {}

function M._bind(worker, clib)
  W, C = worker, clib
end

-- A count the int64 counter takes exactly: an integer number in int64's range,
-- or an int64/uint64 cdata. Why checked here: the FFI truncates 0.5 to 0 and
-- turns nan, inf or 2^70 into garbage, so a count nobody meant would be
-- added silently. A bad one is a script error at the caller's line. (C
-- saturates a sum past int64's range: stats_counter_add.)
local function check_count(what, name, n, level)
  local t = type(n)
  if t == "number" then
    if n % 1 == 0 and n >= -2^63 and n < 2^63 then return end -- nan and inf fail n % 1 == 0
  elseif t == "cdata" then
    return
  end
  error(("%s: '%s' adds an integer (got %s)"):format(what, tostring(name), tostring(n)),
    level + 1)
end

function M.count(name, n)
  if n ~= nil then check_count("surge.count", name, n, 2) end
  if not W then return end
  local id = counter_ids[name]
  if not id then
    id = C.surge_counter_id(W, name)
    if id < 0 then error("surge.count: bad counter name '" .. tostring(name) .. "'", 2) end
    counter_ids[name] = id
  end
  C.surge_count(W, id, n or 1)
end

-- surge.status(n): the protocol's status of the answer being parsed (DNS
-- rcode, HTTP status), recorded with its request in the sample log
-- (--samples). Call it from the response function.
function M.status(n)
  if W then C.surge_status(W, n) end
end

-- A duration the histogram can hold: a number of ns from 0 below 2^63. Why
-- checked here: the FFI turns inf or nan into INT64_MIN, which the histogram
-- would keep as 0 ns, a measurement nobody made. A bad one is a script error
-- at the caller's line, in a worker or not.
local function check_ns(what, name, ns, level)
  if type(ns) ~= "number" and type(ns) ~= "cdata" or not (ns >= 0 and ns < 9.2e18) then
    error(("%s: '%s' takes a duration in ns from 0 (got %s)"):format(what, tostring(name),
      tostring(ns)), level + 1)
  end
end

function M.metric(name, ns)
  check_ns("surge.metric", name, ns, 2)
  if not W then return end
  local id = metric_ids[name]
  if not id then
    id = C.surge_metric_id(W, name)
    if id < 0 then error("surge.metric: bad metric name '" .. tostring(name) .. "'", 2) end
    metric_ids[name] = id
  end
  C.surge_metric(W, id, ns)
end

-- surge.error(class [, n]): a fault a session found itself, counted in the
-- report's errors by class (ffi.h's enum surge_error_class). Faults the
-- engine sees (reset, refused) are counted already: sessions count only what
-- C cannot know.
local ERROR_CLASSES = { unexpected_close = "SURGE_ERR_UNEXPECTED_CLOSE",
  request_timeout = "SURGE_ERR_REQUEST_TIMEOUT", protocol = "SURGE_ERR_PROTOCOL",
  other = "SURGE_ERR_OTHER" }
local error_ids = {}
-- Sessions (coroutines) that counted an error: they failed, whatever they
-- return, and the engine does not count them as completed (runtime.lua).
M._failed = setmetatable({}, { __mode = "k" })
function M.error(class, n)
  local name = ERROR_CLASSES[class]
  if not name then
    error("surge.error: class must be unexpected_close, request_timeout, protocol or other", 2)
  end
  if W then
    local id = error_ids[class]
    if not id then id = C[name]; error_ids[class] = id end
    C.surge_error(W, id, n or 1)
  end
  local co = coroutine.running()
  if co then M._failed[co] = true end
end

local clock_ts
function M.now_ns()
  if C then return tonumber(C.surge_now_ns()) end
  -- Outside a worker (tests): os.clock is process time, good enough there.
  return os.clock() * 1e9
end

function M.log(fmt, ...)
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt)
  if W then C.surge_log(W, msg) else io.stderr:write(msg, "\n") end
end

-- Handles declared at load: `local lost = surge.counter("rtsp.lost")` then
-- `lost:add()` (or `lost:add(n)`), `surge.histogram("rtsp.first_frame"):record(ns)`.
-- The name is checked once, where it is declared (a bad one is an error at
-- that line), and its id looked up on first use in a worker, so a call is a
-- field read and a C call. M.declared lists every name declared.
M.declared = {}

-- kind: "counter" or "histogram"; id_fn and put_fn: the C functions that
-- look its id up and add to it; method: what the handle calls it.
local function handle_kind(kind, id_fn, put_fn, method, default)
  local mt = {}
  mt.__index = mt
  mt[method] = function(self, v)
    if kind == "histogram" then check_ns("surge.histogram:record", self.name, v or default, 2)
    elseif v ~= nil then check_count("surge.counter:add", self.name, v, 2) end
    if not W then return end
    local id = self.id
    if not id then
      id = C[id_fn](W, self.name)
      self.id = id
    end
    C[put_fn](W, id, v or default)
  end
  M[kind] = function(name)
    if type(name) ~= "string" or name == "" or #name >= 64 or name:find("[^%w._:-]") then
      error(("surge.%s: a name of 1 to 63 letters, digits and ._:- (got %s)"):format(kind,
        tostring(name)), 2)
    end
    M.declared[name] = kind
    return setmetatable({ name = name }, mt)
  end
end
handle_kind("counter", "surge_counter_id", "surge_count", "add", 1)
handle_kind("histogram", "surge_metric_id", "surge_metric", "record", 0)

-- Families of names counted at run time (dns.rcode.NXDOMAIN, http.status.404):
-- surge.declare("counter", "dns.rcode.*") at load says a module counts into
-- one, so a threshold on any of its names is accepted before traffic. "*"
-- stands for one or more name characters, "#" for one digit. The engine's
-- own come first.
M.families = { counter = {}, histogram = {} }

local function glob(pattern)
  return "^" .. pattern:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", "[%%w._:-]+")
    :gsub("#", "%%d") .. "$"
end

function M.declare(kind, pattern)
  if kind ~= "counter" and kind ~= "histogram" then
    error("surge.declare: kind must be \"counter\" or \"histogram\" (got " .. tostring(kind)
      .. ")", 2)
  end
  if type(pattern) ~= "string" or pattern == "" or #pattern >= 64 or pattern:find("[^%w._:*#-]") then
    error("surge.declare: a name or family like \"dns.rcode.*\" (letters, digits, ._:- , * for "
      .. "any name characters and # for one digit; got " .. tostring(pattern) .. ")", 2)
  end
  if not pattern:find("[*#]") then
    M.declared[pattern] = M.declared[pattern] or kind
    return
  end
  local f = M.families[kind]
  f[#f + 1] = { pattern, glob(pattern) }
end

-- What C counts or records itself, whatever the protocol (conn.c, dgram.c,
-- stats.c, tls.c, churn.c, dest.c, http_stats.c).
-- HTTP's by name: a family as wide as "http.*" took "http.status.5XX" too,
-- a threshold on a counter that can never count.
for _, n in ipairs { "protocol.*", "errno.*", "udp.*", "source.*", "conn.*", "tls.*", "pool.*",
  "http.status.###", "http.status.#xx", "http.body_bytes", "http.closed_by_server", "dest:*" } do
  M.declare("counter", n)
end
for _, n in ipairs { "latency", "service", "connect", "send_lag", "tls_handshake",
  "tls_handshake.*", "conn.first_answer", "dest:*" } do M.declare("histogram", n) end

-- Past this many names a hint's list is folded (below).
local KNOWN_MAX = 24

-- The declared names a hint lists for `name`: those under the longest
-- dotted prefix of it that any share, written once ("rtsp.error.play.{auth,
-- closed, ...}" for rtsp.error.play.x), or all when none does. A module
-- that declares its names one by one (rtsp: ~150) would fill the message,
-- so past KNOWN_MAX the names are folded at the segment after the prefix:
-- "error.{...}" stands for several under it.
local function known_hint(name, set)
  local prefix = ""
  for p in name:gmatch("[^.]*%.") do
    local cand, any = prefix .. p, false
    for n in pairs(set) do
      if n:sub(1, #cand) == cand then any = true break end
    end
    if not any then break end
    prefix = cand
  end
  local under = {}
  for n in pairs(set) do
    if n:sub(1, #prefix) == prefix then under[#under + 1] = n:sub(#prefix + 1) end
  end
  local list = under
  if #under > KNOWN_MAX then
    local groups = {}
    for _, n in ipairs(under) do
      local seg = n:match("^[^.]*")
      local g = groups[seg]
      if not g then
        g = { n = 0 }
        groups[seg] = g
      end
      g.n, g.name = g.n + 1, n
    end
    list = {}
    for seg, g in pairs(groups) do list[#list + 1] = g.n == 1 and g.name or (seg .. ".{...}") end
  end
  table.sort(list)
  if prefix == "" then return "known: " .. table.concat(list, ", ") end
  return "known: " .. prefix .. "{" .. table.concat(list, ", ") .. "}"
end

-- Whether a threshold may name `name` of `kind` ("counter" or "histogram"):
-- true, or false and a hint (a did-you-mean, else the declared names).
function M._is_declared(kind, name)
  if M.declared[name] == kind then return true end
  for _, f in ipairs(M.families[kind]) do
    if name:find(f[2]) then return true end
  end
  local set = {}
  for n, k in pairs(M.declared) do if k == kind then set[n] = true end end
  for _, f in ipairs(M.families[kind]) do set[f[1]] = true end
  local hint = require("surge.keys").suggest(name, set)
  if hint:find("^did you mean") then return false, hint end
  return false, known_hint(name, set)
end

M.wire = require "surge.wire"

function M.worker_index()
  return W and C.surge_worker_index(W) or 0
end

-- slot, slots: this worker's place in the run's split (every shard's
-- workers counted), as the engine splits requests: the run's i-th request
-- is this worker's when i % slots == slot. A list walked by slot and step
-- slots is walked once by all the workers together. 0, 1 outside a worker.
function M.worker_slot()
  if not W then return 0, 1 end
  return C.surge_worker_slot(W), C.surge_worker_slots(W)
end

return M
