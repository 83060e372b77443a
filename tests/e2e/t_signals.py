#!/usr/bin/env python3
"""How signals stop a run (engine/stopping.c, the workers' handler): a
SIGTERM to the whole process group, as GNU timeout, systemd and Kubernetes
send it, drains like the first Ctrl-C; a signal in the drain after the end
still makes the run an interrupted one."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, done, ok, write_scenario  # noqa: E402

SURGE = os.environ.get("SURGE", "build/surge")
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:1", protocol = echo.new { size = 16 } }
""")


def report(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


# GNU timeout signals the whole group it leads: each worker gets that
# SIGTERM and the one the coordinator forwards. Neither may give up the
# drain: with a 400 ms server every connection has an answer in flight.
for attempt in range(3):
    srv = Serve("echo", "--delay", "400ms")
    out = os.path.join(tempfile.mkdtemp(prefix="surge-sig-"), "run.json")
    p = subprocess.run(["timeout", "--preserve-status", "-s", "TERM", "2.5", SURGE, "run", scn,
                        "--target", "127.0.0.1:%d" % srv.port, "-d", "60s", "-c", "8", "-w", "2",
                        "-o", "drain=10s", "--json", out, "-q", "--no-progress"],
                       capture_output=True, text=True, timeout=60)
    srv.stop()
    j = report(out)
    req = j.get("totals", {}).get("requests", {})
    ok(p.returncode == 130 and req.get("unfinished") == 0 and req.get("completed", 0) > 0 and
       j.get("run", {}).get("interrupted") is True and "stopping at once" not in p.stderr,
       "timeout -s TERM (the whole group), run %d: drained, exit 130, unfinished %s of sent %s"
       % (attempt + 1, req.get("unfinished"), req.get("sent")), p.stderr + json.dumps(req))


def run_into_drain(sig):
    """-d 6s against a 5 s server, drain 15 s: the signal comes at about 6.8 s,
    in the drain, before the second round of answers (10 s)."""
    srv = Serve("echo", "--delay", "5s")
    out = os.path.join(tempfile.mkdtemp(prefix="surge-sig-"), "run.json")
    p = subprocess.Popen([SURGE, "run", scn, "--target", "127.0.0.1:%d" % srv.port, "-d", "6s",
                          "-c", "8", "-o", "drain=15s", "--progress", "--json", out, "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    line = p.stderr.readline()
    while line and not line.startswith("[  1s]"):
        line = p.stderr.readline()
    time.sleep(5.8)
    os.killpg(p.pid, sig)
    t0 = time.time()
    _, err = p.communicate(timeout=60)
    took = time.time() - t0
    srv.stop()
    return p.returncode, report(out), err, took


# Ctrl-C in the drain stops at once, and the run counts as interrupted: not
# exit 0 with "interrupted": false.
rc, j, err, took = run_into_drain(signal.SIGINT)
req = j.get("totals", {}).get("requests", {})
ok(rc == 130 and j.get("run", {}).get("interrupted") is True and "stopping at once" in err and
   j.get("run", {}).get("elapsed_s") == 6 and req.get("unfinished", 0) > 0,
   "Ctrl-C in the drain: stops at once, exit %s, interrupted %s, elapsed %s s"
   % (rc, j.get("run", {}).get("interrupted"), j.get("run", {}).get("elapsed_s")), err)

# SIGTERM in the drain keeps draining: the second round of answers (at 10 s)
# still comes in.
rc, j, err, took = run_into_drain(signal.SIGTERM)
req = j.get("totals", {}).get("requests", {})
ok(rc == 130 and j.get("run", {}).get("interrupted") is True and "stopping at once" not in err
   and req.get("unfinished") == 0 and took > 2,
   "SIGTERM in the drain: the drain goes on (exit %s, unfinished %s, %.1f s more)"
   % (rc, req.get("unfinished"), took), err)

done()
