#!/usr/bin/env python3
"""A worker holding idle connections sleeps (issue 18: a million held
connections, soaks of hours). The pool's 10 ms upkeep used to run whatever
there was to do: 51 workers holding a million idle connections woke 5100
times a second for nothing. Now the tick rests while no slot waits to
connect and the connection target is flat, and a slot that comes free wakes
it.

1. 2000 idle echo connections (two workers, think 600 s: a request every
   0.3 s per worker) held for 3 s: each worker wakes (voluntary context
   switches, /proc/PID/status) a few times a second, not ~100 as before;
   the run still ends at its duration with every connection opened.
2. The server closes every connection after its first answer
   (`--close-after 1`), start = "now", think 50 ms: the pool keeps
   reopening them, woken by each close, and each new connection sends once
   its slot's pause is over. A tick that stayed asleep would open each slot
   once."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, Serve, children, done, ok, proc_status, run_json, write_scenario  # noqa: E402


def wakes(pid):
    return proc_status(pid, "voluntary_ctxt_switches")


srv = Serve("echo")
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 2000, connect_rate = 20000, think = "600s", duration = "6s" }
""" % srv.port)
js = scn + ".json"
p = subprocess.Popen([SURGE, "run", scn, "-w", "2", "-q", "--no-progress", "--json", js],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(2)  # 2000 connects at 20000/s take 0.1 s
workers = children(p.pid)
before = {w: wakes(w) for w in workers}
t0 = time.time()
time.sleep(3)
after = {w: wakes(w) for w in workers}
secs = time.time() - t0
out, err = p.communicate(timeout=60)
srv.stop()
rates = {w: (after[w] - before[w]) / secs for w in workers
         if before.get(w) is not None and after.get(w) is not None}
ok(p.returncode == 0, "the idle run exits 0", err)
ok(len(rates) == 2, "both workers were watched (%s)" % rates)
# The work itself: ~1.7 requests a second per worker, each an alarm and an
# answer; the stats' second. 30 leaves room for a loaded machine; the
# resting tick alone was 100.
ok(rates and max(rates.values()) < 30,
   "an idle worker wakes a few times a second (%s per second)"
   % ", ".join("%.1f" % r for r in sorted(rates.values())))
try:
    import json
    with open(js) as f:
        j = json.load(f)
except (OSError, ValueError):
    j = {}
conns = j.get("totals", {}).get("connections", {})
ok(conns.get("opened") == 2000 and conns.get("peak_open") == 2000,
   "every connection opened and was held (%s)" % conns)
ok(abs(j.get("run", {}).get("elapsed_s", 0) - 6.0) < 0.5,
   "the resting tick still ends the run at its duration (%s s)"
   % j.get("run", {}).get("elapsed_s"))

srv = Serve("echo", "--close-after", "1")
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 20, connect_rate = 2000, start = "now", think = "50ms",
         duration = "2s" }
""" % srv.port)
rc, j, log = run_json(scn, "-w", "1")
seen = srv.stop()
conns = (j or {}).get("totals", {}).get("connections", {})
# Each connection is answered once, closed by the server, and reopened as
# the connect rate allows; it sends when the 50 ms pause after its slot's
# last answer is over: ~800 in 2 s; 200 is far above the 20 a sleeping tick
# would open. (With a long think a slot would reopen once and wait there:
# the pause outlives the connection.)
ok(conns.get("opened", 0) >= 200,
   "slots the server closed reopen while the pool is otherwise idle (opened %s; "
   "the server accepted %s)" % (conns.get("opened"), seen.get("accepted")), log)
done()
