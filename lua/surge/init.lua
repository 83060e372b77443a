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

function M.count(name, n)
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

function M.metric(name, ns)
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

M.wire = require "surge.wire"

function M.worker_index()
  return W and C.surge_worker_index(W) or 0
end

return M
