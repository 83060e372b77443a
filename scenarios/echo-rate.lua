-- Open model: 20000 requests per second in total, whatever the server does.
-- Latency is measured from when each request was due, so a stalling server
-- shows up in the tail instead of being hidden (no coordinated omission).
local echo = require "surge.proto.echo"

return {
  target      = "tcp://127.0.0.1:7000",
  protocol    = echo.new { size = 64, pipeline = 4 },
  connections = 100,
  rate        = 20000,          -- requests per second, split exactly across workers
  arrival     = "uniform",      -- or "poisson"
  duration    = "10s",
}
