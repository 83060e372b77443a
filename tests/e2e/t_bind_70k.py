#!/usr/bin/env python3
# surge-test: alone (tests/run): 70000 connections on both cores
"""Beyond one address's port space: 70000 concurrent established connections
to one destination port, from 4 loopback source addresses, via several surge
workers (20000 fds per process here), against `surge serve echo` with 5
workers. All established at once (the kernel's socket table says so), all
counted by surge and by the server. Bounded: about 30 s."""
import collections
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import (SURGE, Serve, diag, done, established_by_source, held_scenario, ok,  # noqa: E402
                 parse_report)

CONNS = 70000

with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    lo, hi = map(int, f.read().split())
# Each source keeps under half of its ports busy: beyond that the kernel's
# connect() scans for every port and opening crawls (plan.c says so too).
NSRC = max(3, -(-CONNS * 100 // ((hi - lo + 1) * 45)))
SOURCES = ["127.0.70.%d" % i for i in range(1, 1 + NSRC)]  # used by no other test
diag("port range %d-%d: %d ports per (source, destination); %d sources" %
     (lo, hi, hi - lo + 1, len(SOURCES)))

srv = Serve("echo", workers=5)


scn = held_scenario(srv.port, CONNS, (SOURCES[0], SOURCES[-1]))

p = subprocess.Popen([SURGE, "run", scn, "--no-progress"], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
seen, end = collections.Counter(), time.time() + 25
while time.time() < end and p.poll() is None:
    time.sleep(1)
    seen = established_by_source(srv.port)
    if sum(seen.values()) >= CONNS:
        break
try:
    out, err = p.communicate(timeout=90)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
counts = srv.stop()
r = parse_report(out)
diag("ss: %s" % dict(seen))
ok(p.returncode == 0, "70000-connection run exits 0", err[-2000:])
ok(sum(seen.values()) == CONNS, "the kernel's table holds %d established at once (%d)"
   % (CONNS, sum(seen.values())))
ok(set(seen) <= set(SOURCES) and len(seen) == len(SOURCES),
   "from all %d source addresses, no other (%s)" % (len(SOURCES), sorted(seen)))
ok(seen and max(seen.values()) - min(seen.values()) <= 8,
   "spread evenly over the sources (%s)" % sorted(seen.values()))
ok(r.get("peak_open") == CONNS and r.get("opened") == CONNS,
   "surge counts %d opened, %d open at peak (%s, %s)" % (CONNS, CONNS, r.get("opened"),
                                                         r.get("peak_open")), out)
ok(counts.get("accepted") == CONNS, "the server accepted %d (%s)" % (CONNS, counts.get("accepted")),
   counts)
ok(r.get("errors") == 0, "no errors", out)
workers = [int(x) for x in __import__("re").findall(r"protocol echo, (\d+) workers", out)]
ok(workers and workers[0] >= 4, "surge used several workers (%s)" % workers, out)
done()
