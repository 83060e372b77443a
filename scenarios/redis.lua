-- Redis SET/GET/INCR with a pipeline of 4, through the module beside this
-- file (scenarios/redis_resp.lua, the README's worked example).
--   redis-server --port 6379 --save '' &
--   surge run scenarios/redis.lua -c 50 -d 10s
local resp = require "redis_resp"
return {
  target   = "tcp://127.0.0.1:6379",
  protocol = resp.client {
    commands = { { "SET", "key:{n}", "value" }, { "GET", "key:{n}" }, { "INCR", "hits" } },
    keyspace = 1000,
    pipeline = 4,
  },
  connections = 10,
  duration    = "10s",
  thresholds  = { ["errors.rate"] = "< 0.1%" },
}
