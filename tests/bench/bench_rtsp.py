#!/usr/bin/env python3
"""RTSP readers benchmark: N readers held by surge against `surge serve rtsp`
at 100 kbit/s each; prints surge's CPU per received Mbit/s, its memory per
reader, and the loss it saw (goal: 10000 readers, 1 Gbit/s, zero loss on a
2-core machine). READERS (default 2000) and SECS (default 20) override.

--readers N (e.g. 100000): N readers on one machine instead, at a low
bitrate (200-byte packets, 2 a second per reader), from 8 loopback source
addresses, with as many workers on both sides as the 20000-fd limit needs
(one per 12500 readers), each reader setting up as it connects (start =
"now": setups overlap only as many as the connect rate makes); all N at PLAY at once (the kernel's socket table,
ss, shows N established while surge counts N sessions, none ended before
the run's end), zero loss, and surge's memory per reader (workers' RSS
minus that of a run of 10 readers per worker; goal <= 4 KiB). Minutes of
CPU: run it under nice."""
import argparse
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

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--readers", type=int, help="N readers at 2 packets/s from 8 sources (e.g. 100000)")
ap.add_argument("--connect-rate", type=int, default=5000, help="with --readers: connects a second")
ap.add_argument("--hold", type=int, default=120,
                help="with --readers: seconds the run lasts after its connect schedule")
ARGS = ap.parse_args()
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


def many(n):
    """--readers: n readers at 2 packets/s from 8 sources; returns the exit status."""
    from tap import established_by_source  # noqa: E402
    per = 12500  # readers per process on either side: under the 20000-fd limit
    workers = max(1, -(-n // per))
    rate, hold = ARGS.connect_rate, ARGS.hold
    ramp = -(-n // rate)
    srv = Serve("rtsp", "--bitrate", "3200", "--packet-size", "200", workers=workers)

    def one(readers, dur, sample):
        js = write_scenario("", name="report.json")
        scn = write_scenario("""
local rtsp = require "surge.proto.rtsp"
return { target = "rtsp://127.0.0.1:%d/live", protocol = rtsp.reader { watch = "3600s" },
         connections = %d, connect_rate = %d, duration = "%ds", timeout = "30s",
         connect_timeout = "30s", bind = { "127.0.19.1-127.0.19.8" }, json = "%s", quiet = true,
         start = "now" }
""" % (srv.port, readers, rate, dur, js))
        p = subprocess.Popen([SURGE, "run", scn, "-w", str(workers), "--no-progress"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # Memory is sampled near the end, when every reader that will reach
        # PLAY has (the report then says all did and none ended early).
        t0, peak, t_all, rss = time.time(), 0, None, 0
        while p.poll() is None and time.time() - t0 < dur - sample:
            time.sleep(3)
            est = sum(established_by_source(srv.port).values())
            peak = max(peak, est)
            if est >= readers and t_all is None:
                t_all = time.time() - t0
        rss = workers_rss_kib(p.pid)
        _, err = p.communicate(timeout=dur + 300)
        with open(js) as f:
            return json.load(f), peak, t_all, rss, err

    base, _, _, base_rss, _ = one(10 * workers, 20, 5)
    rep, peak, t_all, rss, err = one(n, ramp + hold, 15)
    seen = srv.stop()
    c = rep.get("counters", {})
    errors = rep["totals"]["errors"]["total"]
    print("rtsp readers: %d at 2 packets/s (3.2 kbit/s) from 8 loopback sources, %d surge workers, "
          "%d server workers, connect_rate %d/s:" % (n, workers, workers, rate))
    print("  established at once (ss): %d of %d%s; sessions (PLAY answered) %d, ended before the "
          "run's end %d, stopped by it %d; errors %d" % (
              peak, n, " after %.0f s" % t_all if t_all else "", c.get("rtsp.sessions", 0),
              c.get("rtsp.watched", 0), c.get("rtsp.stopped", 0), errors))
    # The server's count of PLAYs answered holds even if surge's report
    # lost a worker's last seconds.
    print("  packets %d, lost %d, reordered %d; server: PLAY answered %d (beyond the 10-reader "
          "runs), packets skipped for slow readers %s"
          % (c.get("rtsp.packets", 0), c.get("rtsp.lost", 0), c.get("rtsp.reordered", 0),
             seen.get("sessions", 0) - base.get("counters", {}).get("rtsp.sessions", 0),
             seen.get("skipped", 0)))
    per_reader = (rss - base_rss) * 1024.0 / (n - 10 * workers)
    print("  memory: workers' RSS %d KiB at %d readers, %d KiB at %d -> %.0f bytes per reader "
          "(goal <= 4096)" % (base_rss, 10 * workers, rss, n, per_reader))
    if errors:
        print("  errors by class: %s" % {k: v for k, v in rep["totals"]["errors"]["by_class"].items() if v})
    if err.strip():
        print(err[-2000:])
    return 0 if (peak >= n and c.get("rtsp.sessions", 0) == n and c.get("rtsp.watched", 0) == 0
                 and c.get("rtsp.lost", 0) == 0 and errors == 0 and per_reader <= 4096) else 1


if ARGS.readers:
    sys.exit(many(ARGS.readers))

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
