#!/usr/bin/env python3
"""The coordinator's memory does not grow with the run (issue 12, defect 5):
every second used to keep its full histograms (~1 MB a second, 18 -> 59 MB in
35 s of this very run); now only the totals do, and a whole second is kept
small. A 36 s run with two workers, --hlog and --json: the coordinator's
resident set grows by far less than 1 MB a second between 10 s and the end,
and what it kept is still complete: the log `surge report` reads back has
every second, the same totals and the same per-second series as the run's
own JSON."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, Serve, done, ok, surge, write_scenario  # noqa: E402

SECS = 24
tmp = tempfile.mkdtemp(prefix="surge-mem-")
hlog, js, js2 = (os.path.join(tmp, n) for n in ("run.hlog", "run.json", "report.json"))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


srv = Serve("echo", workers=1)
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64 },
         connections = 20, rate = 2000, duration = "%ds" }
""" % (srv.port, SECS))
# Under ASan freed memory sits in its quarantine (256 MB by default), which
# is RSS that says nothing about what surge keeps: measure without it.
env = dict(os.environ)
env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0:"
                       "thread_local_quarantine_size_kb=0").lstrip(":")
p = subprocess.Popen([SURGE, "run", scn, "-w", "2", "-q", "--no-progress", "--hlog", hlog,
                      "--json", js], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                     env=env)
time.sleep(10)
at10 = rss_kib(p.pid)
time.sleep(SECS - 13)
at_end = rss_kib(p.pid)
out, err = p.communicate(timeout=60)
srv.stop()
ok(p.returncode == 0, "the run completes", err)
grown = at_end - at10
# Before the fix: ~1 MB per second, ~11 MB over these 11 s. A couple of MB of
# allocator noise is allowed; a fifth of the old rate is not.
ok(grown < 2300, "coordinator RSS from 10 s to %d s: %d -> %d KiB (+%d KiB; the old growth "
   "was ~11000)" % (SECS - 3, at10, at_end, grown))

with open(js) as f:
    run = json.load(f)
ok(len(run["series"]) >= SECS, "the run's JSON has every second (%d)" % len(run["series"]))
rc, _, rerr = surge("report", hlog, "-q", "--json", js2)
ok(rc == 0, "surge report reads the log", rerr)
with open(js2) as f:
    rep = json.load(f)
ok(rep["series"] == run["series"], "the log holds every second as the run counted it")
ok(rep["totals"] == run["totals"], "and the same totals")
ok(rep["histograms"]["latency"]["distribution"] == run["histograms"]["latency"]["distribution"],
   "and the same latency distribution")
done()
