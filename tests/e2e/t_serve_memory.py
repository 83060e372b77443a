#!/usr/bin/env python3
# surge-test: alone (tests/run): judges a server worker's resident memory
"""`surge serve` keeps no buffer for an idle connection (issue 18: a million
connections on one machine, both ends on it). Each connection answered once
used to keep its 4 KiB reply buffer: 4.4 KiB of the server's memory per idle
connection (4 GB for the million) and a page fault and a cleared page for
each one as they opened (12% of the machine's CPU in bench_scale --million).

4000 connections each send one echo and then wait; once all are open the
server worker's anonymous resident memory (RssAnon) has grown by well under
1.5 KiB per connection (~0.3 KiB: its slot and the kernel's view of nothing
else), and every connection was answered."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import (SURGE, Serve, children, done, established_by_source, ok, parse_report,  # noqa: E402
                 rss_anon_kib, write_scenario)

CONNS = 4000
# Under ASan freed memory sits in its quarantine: measure without it (the
# server inherits this environment).
os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0:"
                              "thread_local_quarantine_size_kb=0").lstrip(":")


srv = Serve("echo")
worker = (children(srv.proc.pid) or [None])[0]
before = rss_anon_kib(worker)
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64 },
         connections = %d, connect_rate = 20000, start = "now", think = "60s",
         duration = "8s", connect_timeout = "10s" }
""" % (srv.port, CONNS))
p = subprocess.Popen([SURGE, "run", scn, "-w", "1", "--no-progress"], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
held = 0
for _ in range(60):  # all open within ~0.2 s at the schedule; allow 6 s
    held = sum(established_by_source(srv.port).values())
    if held >= CONNS:
        break
    time.sleep(0.1)
time.sleep(0.5)  # each one's echo answered
after = rss_anon_kib(worker)
out, err = p.communicate(timeout=60)
report = srv.stop()
r = parse_report(out)

ok(p.returncode == 0, "the run completes", err)
ok(held >= CONNS, "all %d connections open at once (%d)" % (CONNS, held))
ok(r.get("completed") == CONNS and r.get("errors") == 0,
   "each connection's echo answered once (%s completed, %s errors)"
   % (r.get("completed"), r.get("errors")))
ok(report.get("replies") == CONNS, "the server replied %s times" % report.get("replies"))
if before is not None and after is not None:
    per = (after - before) * 1024.0 / CONNS
    ok(per <= 1536, "server worker RssAnon %d -> %d KiB: %.0f bytes per idle connection "
       "(<= 1536; 4.4 KiB when each kept its reply buffer)" % (before, after, per))
else:
    ok(False, "the server worker's memory was sampled (pid %s)" % worker)
done()
