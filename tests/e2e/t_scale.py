#!/usr/bin/env python3
"""More connections than one process may hold (20000 fds here): 25000 held via
workers on both sides, all established, all counted."""
import os
import resource
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, diag, done, ok, parse_report, surge, write_scenario  # noqa: E402

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
diag("fd limit per process here: %d" % hard)

srv = Serve("echo", workers=2)
scn = write_scenario("""
local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%d",
  protocol = echo.new { size = 32 },
  connections = 25000,
  -- A pace an ASan-built server on a busy 2-core machine accepts without
  -- overflowing its listen queues (dropped SYNs come back only after 1 s, 3 s).
  connect_rate = 10000,
  think = "2s",          -- mostly idle connections: this test is about holding them
  duration = "20s",
  connect_timeout = "10s",  -- a loaded CI machine is slow to accept
}
""" % srv.port)
rc, out, err = surge("run", scn, "--progress", *sys.argv[1:], timeout=120)
seen = srv.stop()
r = parse_report(out)
ok(rc == 0, "25000-connection run exits 0", err[-2000:])
ok(r.get("peak_open") == 25000, "all 25000 connections were open at once (%s)" % r.get("peak_open"), out)
ok(r.get("opened") == 25000 and seen.get("accepted") == 25000,
   "25000 opened by surge, 25000 accepted by the server (%s)" % seen.get("accepted"), seen)
ok(r.get("errors") == 0, "no errors", out)
workers = [int(x) for x in __import__("re").findall(r"protocol echo, (\d+) workers", out)]
ok(workers and workers[0] >= 2, "surge used several workers (%s)" % workers, out)
ok(r.get("completed", 0) >= 25000, "every connection completed requests (%s)" % r.get("completed"), out)
done()
