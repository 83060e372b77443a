#!/usr/bin/env python3
"""What an RTSP reader costs surge while it watches (issue 18: 100k readers on
one machine need a few KiB each). 2000 readers of `surge serve rtsp` at 2
packets a second, one surge worker; once all are playing, the worker's
anonymous resident memory (RssAnon: what it allocated, not the shared
libraries) is compared with a run of 10 readers.

Readers that start as they connect (start = "now") set up a few at a time:
the goal of <= 4 KiB a reader holds (2.9-3.1 KiB here; 14.1 KiB when a 4 KiB
read buffer stayed between packets and the Lua state kept every track, the
SDP and the last response). All 2000 setting up at the same instant (the
default start, after the connect phase) keep every reader's setup state
alive at once: the Lua heap peaks near 3 times what the readers keep
afterwards, and the worker's memory stays at that peak (7.3-7.5 KiB a
reader); that run is held to a looser bound."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import (SURGE, Serve, children, diag, done, established_by_source, ok,  # noqa: E402
                 rss_anon_kib, write_scenario)

READERS, BASE = 2000, 10
# The goal, and a bound for all readers setting up at once that the old
# reader (14.1 KiB) fails.
GOAL, BOUND = 4096, 10 * 1024
ASAN = bool(os.environ.get("SURGE_ASAN"))


srv = Serve("rtsp", "--bitrate", "3200", "--packet-size", "200")


def run(readers, start="now"):
    """readers held until all are established plus 5 s; returns (RssAnon KiB
    of the worker then, established seen, the JSON report)."""
    js = write_scenario("", name="run.json")
    scn = write_scenario("""
local rtsp = require "surge.proto.rtsp"
return { target = "rtsp://127.0.0.1:%d/live", protocol = rtsp.reader { watch = "600s" },
         connections = %d, connect_rate = 1000, duration = "60s", timeout = "30s",
         connect_timeout = "30s", bind = { "127.0.21.1-127.0.21.4" }, json = "%s", quiet = true,
         start = "%s" }
""" % (srv.port, readers, js, start))
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0:"
                           "thread_local_quarantine_size_kb=0").lstrip(":")
    p = subprocess.Popen([SURGE, "run", scn, "-w", "1", "--no-progress"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, env=env)
    peak, t_all, anon = 0, None, None
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < 55:
        time.sleep(0.5)
        peak = max(peak, sum(established_by_source(srv.port).values()))
        if peak >= readers and t_all is None:
            t_all = time.time()
        if t_all is not None and time.time() - t_all >= 5:
            pids = children(p.pid)
            anon = rss_anon_kib(pids[0]) if len(pids) == 1 else None
            break
    p.send_signal(2)  # SIGINT: the run stops early and still reports
    _, err = p.communicate(timeout=120)
    try:
        with open(js) as f:
            rep = json.load(f)
    except (OSError, ValueError):
        rep = {}
    return anon, peak, rep, err


base, _, _, _ = run(BASE)
anon, peak, rep, err = run(READERS)
burst, burst_peak, burst_rep, burst_err = run(READERS, start="connected")
seen = srv.stop()
c = rep.get("counters", {})
ok(peak == READERS, "all %d readers connected at once (ss: %d)" % (READERS, peak), err)
ok(c.get("rtsp.sessions") == READERS and not c.get("rtsp.watched"),
   "all %d played until the run was stopped (sessions %s, ended early %s)"
   % (READERS, c.get("rtsp.sessions"), c.get("rtsp.watched")), err)
ok(c.get("rtsp.packets", 0) > READERS and not c.get("rtsp.lost") and seen.get("skipped", 0) == 0,
   "packets flowed (%s), none lost (%s)" % (c.get("rtsp.packets"), c.get("rtsp.lost", 0)), c)
ok(rep.get("totals", {}).get("errors", {}).get("total", 1) == 0, "no errors",
   rep.get("totals", {}).get("errors"))
t = rep.get("totals", {})
ok(t.get("sessions_unfinished") == READERS and t.get("sessions_completed") == 0 and
   rep.get("outcome", {}).get("exit_code") == 130,
   "readers cut short by Ctrl-C are unfinished, not completed, exit 130 "
   "(unfinished %s, completed %s)" % (t.get("sessions_unfinished"), t.get("sessions_completed")), t)
bc = burst_rep.get("counters", {})
ok(burst_peak == READERS and bc.get("rtsp.sessions") == READERS and not bc.get("rtsp.lost") and
   burst_rep.get("totals", {}).get("errors", {}).get("total", 1) == 0,
   "all %d set up at once after the connect phase: all play, none lost, no errors (sessions %s)"
   % (READERS, bc.get("rtsp.sessions")), burst_err)
ok(base is not None and anon is not None and burst is not None,
   "the worker's memory was sampled (%s, %s, %s KiB)" % (base, anon, burst))
if base is not None and anon is not None and burst is not None:
    per = (anon - base) * 1024.0 / (READERS - BASE)
    burst_per = (burst - base) * 1024.0 / (READERS - BASE)
    diag("worker RssAnon: %d KiB at %d readers, %d KiB at %d (%.0f bytes per reader), "
         "%d KiB when all set up at once (%.0f)" % (base, BASE, anon, READERS, per, burst, burst_per))
    if ASAN:
        diag("ASan's allocator and shadow memory: the bytes per reader are not judged")
    else:
        ok(per <= GOAL, "a reader costs <= %d bytes of surge's memory (%.0f; 14.1 KiB before)"
           % (GOAL, per))
        ok(burst_per <= BOUND, "all setting up at once, <= %d bytes a reader (%.0f)"
           % (BOUND, burst_per))
done()
