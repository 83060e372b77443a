#!/usr/bin/env python3
# surge-test: alone (tests/run): judges the run's elapsed time to 50 ms
"""start = "connected" (the default for a constant number of connections):
the connections open in a connect phase before the run's start, so traffic
begins on all of them at once and connects do not compete with it; the run's
own clock (seconds, duration, schedule) is the traffic's. start = "now", or
a ramp of connections, begins traffic as connections open."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, done, ok, surge, write_scenario  # noqa: E402

SCN = """local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = %s, connect_rate = %d, duration = "2s", workers = 2 %s }
"""


def run(scn, *extra):
    t0 = time.time()
    rc, out, err = surge("run", scn, "--json", "-", "--no-progress", *extra)
    try:
        return rc, json.loads(out), err, time.time() - t0
    except ValueError:
        return rc, {}, out + err, time.time() - t0


srv = Serve("echo", workers=2)
# 3000 connections at 2000/s: the schedule is 1.5 s, the phase 1.5 x 1.5 + 0.1 s.
rc, r, err, wall = run(write_scenario(SCN % (srv.port, 3000, 2000, "")))
cnt = r.get("counters", {})
ok(rc == 0 and r["run"]["start"] == "connected" and abs(r["run"]["connect_phase_s"] - 2.35) < 1e-9,
   "constant connections: start = connected, phase 2.35 s (%s)" % r.get("run", {}).get("connect_phase_s"), err)
ok(cnt.get("pool.open_at_start") == 3000,
   "all 3000 open when traffic began (pool.open_at_start %s)" % cnt.get("pool.open_at_start"), err)
s0 = r["series"][0] if r.get("series") else {}
ok(s0.get("conns_open") == 3000 and r["totals"]["connections"]["opened"] == 3000,
   "second 0 already has all 3000 open, opened once each (%s, %s)"
   % (s0.get("conns_open"), r["totals"]["connections"]["opened"]), json.dumps(s0)[:400])
ok(abs(r["run"]["elapsed_s"] - 2.0) < 0.05 and wall > 2.0 + 2.0,
   "the run's 2 s are the traffic's: elapsed %.2f s, wall %.1f s with the phase before it"
   % (r["run"]["elapsed_s"], wall))

rc, r, err, wall = run(write_scenario(SCN % (srv.port, 3000, 2000, "")), "-o", "start=now")
ok(rc == 0 and r["run"]["start"] == "now" and r["run"]["connect_phase_s"] == 0 and
   "pool.open_at_start" not in r.get("counters", {}),
   "-o start=now: no phase, no open-at-start count", err)
s0 = r["series"][0] if r.get("series") else {}
ok(r["totals"]["requests"]["completed"] > 0 and r["totals"]["connections"]["opened"] == 3000 and
   s0.get("conns_open", 3000) < 3000 and s0.get("completed", 0) > 0,
   "start = now: traffic from the first connection on, second 0 with %s of 3000 open"
   % s0.get("conns_open"), json.dumps(s0)[:400])

ramp = 'require("surge.ramp").linear { {"0s", 10}, {"1s", 100} }'
rc, r, err, wall = run(write_scenario(SCN % (srv.port, ramp, 2000, "")))
ok(rc == 0 and r.get("run", {}).get("start") == "now",
   "a ramp of connections starts now by default (%s)" % r.get("run", {}).get("start"), err)
srv.stop()

# Nobody listening: traffic begins with none open, and surge says why.
import socket  # noqa: E402
s = socket.socket()
s.bind(("127.0.0.1", 0))
dead = s.getsockname()[1]
s.close()
rc, r, err, wall = run(write_scenario(SCN % (dead, 20, 2000, ', connect_timeout = "1s"')))
ok(rc == 1 and "traffic began with 0 of its 10 connections open" in err,
   "a dead target: exit 1, each worker says how many opened in the phase", err)

rc, out, err = surge("run", write_scenario(SCN % (dead, 20, 2000, ', start = "later"')))
ok(rc == 2 and "start" in err and "connected" in err and "scenario.lua" in err,
   "start = \"later\" is refused naming the option and its values", err)
done()
