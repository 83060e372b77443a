-- DNS over TCP: 2000 long-lived connections, 8 queries in flight on each,
-- 20000 queries a second in total, answers matched by ID (RFC 7766).
-- Start a target with:  ./surge serve dns --listen 127.0.0.1:5353
--   (or point it at your own server: knot, unbound, nsd, a resolver)
-- Then run:             ./surge run scenarios/dns-tcp.lua
-- Override from the command line, e.g.: ./surge run scenarios/dns-tcp.lua -c 5000 -d 60s
local dns = require "surge.proto.dns"             -- built-in module: lua/surge/proto/dns.lua

return {
  target      = "tcp://127.0.0.1:5353",           -- the DNS server (TCP, port 53 on real servers)
  protocol    = dns.tcp {
    queries   = "scenarios/data/queries.txt",     -- dnsperf format: "name TYPE" a line, # comments
    pipeline  = 8,                                -- queries in flight per connection (pipelining)
    edns      = 1232,                             -- EDNS0 OPT with this UDP size; false: no OPT
    do_bit    = false,                            -- true: ask for DNSSEC records (DO bit)
    rd        = true,                             -- recursion desired (for resolvers)
    ids       = "random",                         -- or "sequential"; unique per connection either way
    per_qtype = true,                             -- counts and latency per query type as well
  },
  connections = 2000,                             -- held open for the whole run, reopened if closed
  rate        = 20000,                            -- queries per second in total (open model)
  duration    = "30s",                            -- how long to send
  timeout     = "2s",                             -- an answer later than this is a timeout
}
