-- Ramps: k6-style stages for the request rate and for the connections.
-- The rate climbs to 5000 requests/s over 5 s, holds for 10 s and falls back
-- to 0 over 5 s; the connections open over the first 2 s and stay. Watch the
-- per-second progress line follow the stages ("intended" vs achieved).
--
--   surge serve echo --listen 127.0.0.1:7000 &
--   surge run scenarios/ramp.lua --progress
--
-- A stage is { duration, from, to } (a ramp) or { duration, value } (a hold).
-- Also ramp.linear { {"0s", 0}, {"10s", 500} }, ramp.step { ... } and
-- ramp.fn(function(t) ... end); the C pacer integrates the compiled
-- breakpoints, so no Lua runs per request.
local echo = require "surge.proto.echo"
local ramp = require "surge.ramp"

return {
  target      = "tcp://127.0.0.1:7000",
  protocol    = echo.new { size = 64, pipeline = 4 },
  rate        = ramp.stages { { "5s", 0, 5000 }, { "10s", 5000 }, { "5s", 5000, 0 } },
  connections = ramp.stages { { "2s", 0, 50 }, { "18s", 50 } },
  arrival     = "uniform",   -- or "poisson"
  duration    = "20s",
}
