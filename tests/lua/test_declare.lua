-- surge.declare / surge.counter: what thresholds may name (issue 15). Names
-- and families are checked where declared; _is_declared answers with a
-- did-you-mean for near misses.
local t = require "tap"
local surge = require "surge"

local function err(f, ...)
  local ok, e = pcall(f, ...)
  return not ok and tostring(e) or ""
end

t.ok(err(surge.declare, "gauge", "x"):find("kind must be \"counter\" or \"histogram\" (got gauge)", 1, true),
  "an unknown kind is an error naming it")
t.ok(err(surge.declare, "counter", "bad name"):find("surge.declare: a name or family", 1, true),
  "a bad name is an error")
t.ok(err(surge.declare, "counter", ""):find("surge.declare", 1, true), "an empty name too")

surge.declare("counter", "app.status.*")
surge.declare("histogram", "app.step.*.time")
surge.declare("counter", "app.plain")
local lost = surge.counter("app.lost")
t.ok(lost and surge._is_declared("counter", "app.lost"), "a surge.counter handle is declared")
t.ok(surge._is_declared("counter", "app.plain"), "a plain declare is a name")
t.ok(surge._is_declared("counter", "app.status.404") and surge._is_declared("counter", "app.status.5xx"),
  "a family accepts its dynamic names")
t.ok(not surge._is_declared("counter", "app.status."), "* stands for at least one character")
t.ok(surge._is_declared("histogram", "app.step.login.time") and
  not surge._is_declared("histogram", "app.step.login.size"), "* in the middle of a family")
t.ok(not surge._is_declared("histogram", "app.lost"), "a counter is not a histogram")
t.ok(surge._is_declared("counter", "http.status.503") and surge._is_declared("counter", "protocol.oversized")
  and surge._is_declared("histogram", "latency") and surge._is_declared("histogram", "send_lag"),
  "the engine's own names and families are declared")
local ok, hint = surge._is_declared("counter", "app.lsot")
t.ok(not ok and hint == "did you mean 'app.lost'?", "a near miss gets a did-you-mean: " .. tostring(hint))
ok, hint = surge._is_declared("histogram", "zzzzzzzz")
t.ok(not ok and hint:find("^known: ") and hint:find("latency", 1, true), "else the declared names")
t.done()
