#!/usr/bin/env python3
"""Pacing benchmark: 100k requests/s of echo for 5 s, one client worker (the
server needs the other core of a 2-core machine; oversubscribed, the
scheduler, not surge, sets the send error). Prints the send-time
error (actual - intended send time) percentiles and the achieved rate; goals:
p99 < 100 us and achieved within 0.5% of intended. The lower bound for the
error is 0; for comparison, wrk2 paces with millisecond timers (+-1 ms)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e", "lib"))
from tap import Serve, parse_report, surge, write_scenario  # noqa: E402

RATE, SECS = 100000, 5
srv = Serve("echo", workers=1)
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64, pipeline = 16 },
         connections = 200, rate = %d, duration = "%ds" }
""" % (srv.port, RATE, SECS))
rc, out, err = surge("run", scn, "-w", os.environ.get("BENCH_WORKERS", "1"))
srv.stop()
r = parse_report(out)
lag = r["rows"].get("send lag", {})
ach = r.get("achieved_rate", 0) / r.get("intended_rate", 1)
print("echo at %d req/s for %d s, 200 connections, %s client workers (server on the same 2 cores):" % (RATE, SECS, os.environ.get("BENCH_WORKERS", "1")))
print("  send-time error: p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  (goal p99 < 100 us)"
      % tuple((lag.get(k) or 0) / 1e3 for k in ("p50", "p90", "p99", "p99.9")))
print("  achieved rate: %.2f%% of intended (goal >= 99.5%%); exit %d" % (100 * ach, rc))
print("  ratio p99 error / 100 us goal: %.2f" % ((lag.get("p99") or 0) / 1e5))
