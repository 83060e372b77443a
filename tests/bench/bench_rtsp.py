#!/usr/bin/env python3
"""RTSP readers benchmark: N readers held by surge against `surge serve rtsp`
at 100 kbit/s each; prints surge's CPU per received Mbit/s, its memory per
reader, and the loss it saw (goal: 10000 readers, 1 Gbit/s, zero loss on a
2-core machine). READERS (default 2000) and SECS (default 20) override."""
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from benchlib import workers_rss_kib  # noqa: E402
from tap import SURGE, Serve, write_scenario  # noqa: E402

READERS = int(os.environ.get("READERS", "2000"))
SECS = int(os.environ.get("SECS", "20"))
RAMP = max(2, READERS // 1000)




def run(readers, port):
    js = write_scenario("", name="report.json")
    scn = write_scenario("""
local rtsp = require "surge.proto.rtsp"
local ramp = require "surge.ramp"
return { target = "rtsp://127.0.0.1:%d/live", protocol = rtsp.reader { watch = "600s" },
         connections = ramp.stages { { "%ds", 0, %d }, { "%ds", %d } },
         connect_rate = 5000, timeout = "10s", json = "%s", quiet = true }
""" % (port, RAMP, readers, SECS, readers, js))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.Popen([SURGE, "run", scn, "-w", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(RAMP + SECS / 2)
    rss = workers_rss_kib(p.pid)
    _, err = p.communicate(timeout=SECS + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(js) as f:
        rep = json.load(f)
    return rep, cpu, rss, err


srv = Serve("rtsp", "--bitrate", "100k", workers=1)
base_rep, base_cpu, base_rss, _ = run(10, srv.port)
rep, cpu, rss, err = run(READERS, srv.port)
seen = srv.stop()
c = rep.get("counters", {})
mbit = c.get("rtsp.bytes", 0) * 8 / 1e6
mbps = mbit / (RAMP + SECS)
print("rtsp readers: %d readers at 100 kbit/s for %d s (+%d s ramp), 1 surge worker, 1 server worker:"
      % (READERS, SECS, RAMP))
print("  received %.1f Mbit (%.1f Mbit/s), %d packets, lost %d, reordered %d, errors %d"
      % (mbit, mbps, c.get("rtsp.packets", 0), c.get("rtsp.lost", 0), c.get("rtsp.reordered", 0),
         rep["totals"]["errors"]["total"]))
print("  sessions playing: %d; server skipped %d packets for slow readers"
      % (c.get("rtsp.sessions", 0), seen.get("skipped", 0)))
print("  surge CPU %.2f s -> %.4f CPU-s per Mbit received (%.0f%% of a core per 100 Mbit/s)"
      % (cpu, cpu / mbit if mbit else 0, 100 * 100 * cpu / mbit if mbit else 0))
print("  memory: workers' RSS %d KiB at 10 readers, %d KiB at %d -> %.0f bytes per reader"
      % (base_rss, rss, READERS, (rss - base_rss) * 1024.0 / (READERS - 10)))
# A counter never counted is absent: no loss. Every reader must be playing.
sys.exit(0 if c.get("rtsp.lost", 0) == 0 and rep["totals"]["errors"]["total"] == 0 and
         c.get("rtsp.sessions", 0) >= READERS else 1)
