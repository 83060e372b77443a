-- A first scenario: keep 200 connections to an echo server busy for 10 s.
-- Start the target with:  ./surge serve echo --listen 127.0.0.1:7000
-- Then run:               ./surge run scenarios/echo.lua
-- Any option can be overridden: ./surge run scenarios/echo.lua -c 1000 -d 30s
local echo = require "surge.proto.echo"      -- built-in protocol module (lua/surge/proto/echo.lua)

return {
  target      = "tcp://127.0.0.1:7000",      -- where to connect (names are resolved too)
  protocol    = echo.new { size = 64,        -- each request: 64 bytes, answered by the same 64
                           pipeline = 1 },   -- requests in flight per connection
  connections = 200,                         -- kept open for the whole run
  duration    = "10s",                       -- how long to send
  timeout     = "2s",                        -- an answer later than this is a request timeout
}
