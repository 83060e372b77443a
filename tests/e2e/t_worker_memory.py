#!/usr/bin/env python3
# surge-test: alone (tests/run): judges memory growth over seconds of a steady run
"""A worker's memory does not grow with the run (issue 12, soak): in the
open model, requests that find every connection busy wait in the backlog, a
ring of `backlog` slots (100000: 800 KB). Its head used to move on forever,
so every 512 requests that waited touched a fresh page of it — the worker's
resident memory grew for as long as the run went on (most of echo's 1.9
MB/hour in bench_soak). Emptied, the ring now starts over at its first slot.

Eight connections to an echo server that holds each answer 1 ms can answer
~6500 a second; 5000 a second arriving at random (poisson) often find all
busy and wait in the backlog, which empties again between bursts. Between
6 s and 18 s of the run the worker's anonymous resident memory (RssAnon:
what it allocated, not the shared libraries) stays within a few pages;
before the fix it grew ~30 KB a second here (+380 KB over these 12 s; +8
KB after). The run's own JSON shows that requests did wait in the backlog
and were answered."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, Serve, children, done, ok, rss_anon_kib, write_scenario  # noqa: E402

SECS, RATE, CONNS = 20, 5000, 8
tmp = tempfile.mkdtemp(prefix="surge-wmem-")
js = os.path.join(tmp, "run.json")


srv = Serve("echo", "--delay", "1ms")
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64 },
         connections = %d, rate = %d, arrival = "poisson", duration = "%ds", timeout = "5s" }
""" % (srv.port, CONNS, RATE, SECS))
# Under ASan freed memory sits in its quarantine: measure without it.
env = dict(os.environ)
env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0:"
                       "thread_local_quarantine_size_kb=0").lstrip(":")
p = subprocess.Popen([SURGE, "run", scn, "-w", "1", "-q", "--no-progress", "--json", js],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
wpid = None
for _ in range(100):  # the worker is forked at once; allow 5 s
    wpid = (children(p.pid) or [None])[0]
    if wpid:
        break
    time.sleep(0.05)
time.sleep(6)
at6 = rss_anon_kib(wpid) if wpid else None
time.sleep(12)
at18 = rss_anon_kib(wpid) if wpid else None
out, err = p.communicate(timeout=60)
srv.stop()
ok(p.returncode == 0, "the run completes", err)
ok(at6 is not None and at18 is not None, "the worker's memory was sampled (pid %s)" % wpid)

with open(js) as f:
    run = json.load(f)
waited = sum(1 for s in run["series"] if s.get("backlog", 0) > 0)
req = run["totals"]["requests"]
ok(req["completed"] >= req["intended"] * 0.95,
   "the requests were answered (%d of %d intended)" % (req["completed"], req["intended"]))
# The gauge is a sample at each second's end: requests waited in some of them.
ok(waited > 0, "requests waited in the backlog (at %d of %d seconds' ends)"
   % (waited, len(run["series"])))
if at6 is not None and at18 is not None:
    grown = at18 - at6
    # The ring still touches as many slots as requests ever waited at once
    # (8 bytes each): a burst of 8000 behind a stalled loop is 64 KiB. And a
    # latency outlier of a size not seen in the first 6 s (a VM hiccup of
    # tens of ms) makes a new page of counts resident in each histogram
    # that records it (+80 and +92 KiB seen on one machine, +0..+48 in most
    # runs, the same with the code before the last changes). ASan's
    # allocator hands out fresh chunks for a while even without a
    # quarantine (+52..+88 KiB, and +232 once on top of an outlier's
    # pages): 320 there. Both bounds stay under the old ring's ~380.
    bound = 320 if os.environ.get("SURGE_ASAN") else 192
    ok(grown <= bound, "worker RssAnon from 6 s to 18 s: %d -> %d KiB (+%d; a ring that never "
       "started over grew ~380 KiB here; bound %d)" % (at6, at18, grown, bound))
else:
    ok(False, "worker RssAnon from 6 s to 18 s")
done()
