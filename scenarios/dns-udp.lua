-- DNS over UDP: 2000 connected UDP sockets over 16 source addresses, one
-- query per datagram, 20000 queries a second in total, answers matched by ID
-- and question (RFC 1035 4.2.1). A lost answer loses one query: it times out.
-- Start a target with:  ./surge serve dns --listen 127.0.0.1:5353
--   (it answers over UDP and TCP; or point it at knot, unbound, nsd, ...)
-- Then run:             ./surge run scenarios/dns-udp.lua
-- Override from the command line, e.g.: ./surge run scenarios/dns-udp.lua -r 50k -d 60s
local dns = require "surge.proto.dns"             -- built-in module: lua/surge/proto/dns.lua

return {
  target      = "udp://127.0.0.1:5353",           -- the DNS server (port 53 on real servers)
  protocol    = dns.udp {
    queries   = "scenarios/data/queries.txt",     -- dnsperf format: "name TYPE" a line, # comments
    edns      = 1232,                             -- EDNS0 payload size, also the largest answer taken
    retries   = 0,                                -- resends of an unanswered query (dnsperf: none)
    tc        = "count",                          -- truncated answers: count them; "tcp": ask again over TCP
  },
  connections = 2000,                             -- sockets, each connect()ed to the server
  rate        = 20000,                            -- queries per second in total (open model)
  duration    = "30s",                            -- how long to send
  timeout     = "500ms",                          -- an answer later than this is a timeout
  bind        = { "127.0.1.1-127.0.1.16",         -- source addresses (loopback: no set-up needed)
                  ports = "33000-60000", pick = "round-robin" },
}
