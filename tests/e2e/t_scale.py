#!/usr/bin/env python3
# surge-test: alone (tests/run): 25000 connections on both cores
"""More connections than one process may hold (20000 fds here): 25000 held via
workers on both sides, all established, all counted."""
import json
import os
import resource
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, diag, done, ok, surge, write_scenario  # noqa: E402

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
out_json = os.path.join(tempfile.mkdtemp(prefix="surge-scale-"), "run.json")
rc, out, err = surge("run", scn, "--progress", "--json", out_json, *sys.argv[1:], timeout=120)
seen = srv.stop()
try:
    with open(out_json) as f:
        j = json.load(f)
except (OSError, ValueError):
    j = {}
conns = j.get("totals", {}).get("connections", {})
held = j.get("outcome", {}).get("connections_held", {})
errors = {k: v for k, v in j.get("totals", {}).get("errors", {}).get("by_class", {}).items() if v}
peak = conns.get("peak_open", 0)
ok(rc == 0, "25000-connection run exits 0", err[-2000:])
ok(held.get("asked") == 25000 and held.get("peak_open") == peak,
   "the report knows what was asked (%s) and held (%s)" % (held.get("asked"), peak), held)
# A loaded machine may not accept 25000 in time: then every report says
# so, with the cause, instead of passing the shortfall off as a result.
ok(peak == 25000 or (held.get("short") is True and held.get("note")),
   "all 25000 open at once (%s), or the shortfall said with its cause (%s)"
   % (peak, held.get("note")), out)
ok(peak > hard or held.get("short") is True,
   "more connections open at once (%s) than one process may hold (%d)" % (peak, hard), out)
ok(conns.get("opened") == conns.get("closed") and 0 < conns.get("opened", 0) <= seen.get("accepted", 0),
   "every connection surge opened was accepted by the server and closed (%s opened, %s accepted)"
   % (conns.get("opened"), seen.get("accepted")), seen)
ok(set(errors) <= {"connect_timeout"} and (peak < 25000 or not errors),
   "no errors but connects that timed out on a loaded machine (%s)" % errors, out)
ok(j.get("run", {}).get("workers", 0) >= 2, "surge used several workers (%s)"
   % j.get("run", {}).get("workers"), out)
ok(j.get("totals", {}).get("requests", {}).get("completed", 0) >= peak,
   "every connection held completed requests (%s)"
   % j.get("totals", {}).get("requests", {}).get("completed"), out)
done()
