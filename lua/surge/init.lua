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

function M.worker_index()
  return W and C.surge_worker_index(W) or 0
end

return M
