-- HTTP/1.1 against a web server, proxy or load balancer (README "HTTP/1.1").
--   surge run scenarios/http.lua --target http://127.0.0.1:8080
-- For one URL no file is needed: surge run http://127.0.0.1:8080/ -c 100 -d 10s
local http = require "surge.proto.http"
return {
  target   = "http://127.0.0.1:8080",
  protocol = http.client {
    method  = "GET",
    path    = { "/", "/index.html" },          -- taken in turn
    headers = { ["Accept-Encoding"] = "gzip" },
    pipeline = 1,
  },
  connections = 100,
  duration    = "10s",
  thresholds  = { ["counter.http.status.5xx"] = "< 10", ["errors.rate"] = "< 0.1%" },
}
