#!/usr/bin/env python3
"""The foundation end to end: surge run against surge serve echo and against
socat (an independent echo peer); counts match what the server saw."""
import os
import shutil
import subprocess
import time
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import (Serve, Server, done, free_port, ok, parse_report, surge,  # noqa: E402
                 write_scenario, wait_port)

ECHO = """
local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%d",
  protocol = echo.new { size = %d, pipeline = %d },
  connections = %d,
  duration = "%s",
}
"""

# Closed model against surge serve echo: every byte surge sent, the server saw.
srv = Serve("echo", workers=2)
scn = write_scenario(ECHO % (srv.port, 100, 4, 50, "2s"))
rc, out, err = surge("run", scn, "-w", "2")
seen = srv.stop()
r = parse_report(out)
ok(rc == 0, "closed model run exits 0", err)
ok(r.get("completed", 0) > 1000, "requests completed (%s)" % r.get("completed"), out)
ok(r.get("sent") == r.get("completed", -1) + r.get("unfinished", -1),
   "sent = completed + unfinished", out)
ok(r.get("errors") == 0, "no errors", out)
ok(seen.get("bytes_in") == r.get("sent", -1) * 100,
   "server received exactly sent x 100 bytes (%s vs %s)" % (seen.get("bytes_in"), r.get("sent")),
   seen)
ok(seen.get("accepted") == 50 and r.get("opened") == 50,
   "50 connections opened and accepted", seen)
lat = r["rows"].get("latency", {})
ok(lat.get("count") == r.get("completed"), "one latency sample per completed request", out)
ok(lat.get("p50") and lat["p50"] <= lat["p99"] <= lat["max"], "percentiles are ordered", out)

# --latency prints HdrHistogram's percentile distribution.
srv = Serve("echo")
rc, out, err = surge("run", scn, "--target", "tcp://127.0.0.1:%d" % srv.port, "-c", "5",
                     "-d", "1s", "--latency")
srv.stop()
ok(rc == 0 and "       Value   Percentile   TotalCount 1/(1-Percentile)" in out
   and "#[Buckets =" in out and "1.000000" in out, "--latency prints the HdrHistogram table", out)

# An independent echo peer from Debian.
if shutil.which("socat"):
    port = free_port()
    with Server(["socat", "TCP-LISTEN:%d,fork,reuseaddr,bind=127.0.0.1" % port, "PIPE"],
                ready_port=("127.0.0.1", port)):
        scn2 = write_scenario(ECHO % (port, 64, 1, 20, "2s"))
        rc, out, err = surge("run", scn2)
    r = parse_report(out)
    ok(rc == 0 and r.get("completed", 0) > 100 and r.get("errors") == 0,
       "against socat: %s requests, 0 errors" % r.get("completed"), out + err)
else:
    ok(False, "socat is installed (make deps)")

# Nothing listening: refused connections are counted, exit 1 says nothing measured.
port = free_port()
rc, out, err = surge("run", scn, "--target", "tcp://127.0.0.1:%d" % port, "-c", "3", "-d", "1s")
r = parse_report(out)
ok(rc == 1, "exit 1 when nothing could be measured (got %d)" % rc, err)
ok(r.get("error_classes", {}).get("connect refused", 0) > 0
   and set(r["error_classes"]) == {"connect refused"},
   "errors are all 'connect refused' (%s)" % r.get("error_classes"), out)
ok("no connection to" in err and "is the server listening" in err, "stderr says what to check", err)

# A bad option stops the run before any traffic: exit 2, file:line and option named.
bad = write_scenario('local echo = require "surge.proto.echo"\nreturn {\n  target = "tcp://127.0.0.1:1",\n'
                     '  protocol = echo.new {},\n  connections = "many",\n}\n')
rc, out, err = surge("run", bad)
ok(rc == 2, "a bad option exits 2 (got %d)" % rc, err)
ok(err.strip() == "surge: %s:5: option 'connections': expected a whole number >= 1 (e.g. 200, 25k)"
   " or a ramp (surge.ramp), got \"many\"" % bad, "the documented message names file, line, option", err)
rc, out, err = surge("run", bad, "-c", "10", "--frobnicate")
ok(rc == 2 and "frobnicate" in err, "an unknown flag exits 2 and is named", err)
rc, out, err = surge("run", bad, "-d")
ok(rc == 2 and "surge run: option '-d' needs a value" in err, "a flag without its value", err)
rc, out, err = surge("run", bad, "-o", "connections")
ok(rc == 2 and "-o expects KEY=VALUE, got 'connections'" in err, "-o without =", err)
rc, out, err = surge("doctor", bad, "--bind")
ok(rc == 2 and "surge doctor: option '--bind' needs a value" in err, "doctor: the same parser",
   err)
rc, out, err = surge("run", "/nonexistent/scenario.lua")
ok(rc == 2 and "cannot read scenario" in err, "a missing scenario file exits 2", err)

# Command-line overrides win over the scenario.
srv = Serve("echo")
rc, out, err = surge("run", scn, "--target", "127.0.0.1:%d" % srv.port, "-c", "7", "-d", "1s",
                     "-o", "pipeline=2")
seen = srv.stop()
r = parse_report(out)
ok(rc == 0 and r.get("opened") == 7 and seen.get("accepted") == 7, "-c 7 opens 7 connections", out)

# Ctrl-C mid-run: the report of what was measured is still printed.
srv = Serve("echo")
p = subprocess.Popen([os.environ.get("SURGE", "build/surge"), "run", scn, "--target",
                      "127.0.0.1:%d" % srv.port, "-d", "60s", "-c", "10", "--progress"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
# Interrupt once the run is measuring: after its first progress line.
first = p.stderr.readline()
while first and not first.startswith("[  1s]"):
    first = p.stderr.readline()
p.send_signal(2)
try:
    out, err = p.communicate(timeout=20)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
srv.stop()
r = parse_report(out)
ok(p.returncode == 130, "SIGINT exits 130 (got %s)" % p.returncode, err)
ok(r.get("completed", 0) > 0 and "latency" in r["rows"],
   "SIGINT still prints the report (%s completed)" % r.get("completed"), out)
import re  # noqa: E402
m = re.search(r"Interrupted after ([\d.]+) s", out)
ok(m and 1.0 <= float(m.group(1)) < 10, "the report covers the time that ran, not 60 s", out)


def interrupt_group(times, delay):
    """A terminal's Ctrl-C reaches every process of the group: the
    coordinator and its workers. The second comes once the first is
    acknowledged. Returns (rc, report, stderr)."""
    srv = Serve("echo", "--delay", delay)
    p = subprocess.Popen([os.environ.get("SURGE", "build/surge"), "run", scn, "--target",
                          "127.0.0.1:%d" % srv.port, "-d", "60s", "-c", "8", "-o", "drain=10s",
                          "--progress"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    seen = []
    line = p.stderr.readline()
    while line and not line.startswith("[  1s]"):
        seen.append(line)
        line = p.stderr.readline()
    for k in range(times):
        os.killpg(p.pid, 2)
        while k + 1 < times and line and "stopping: collecting" not in line:
            line = p.stderr.readline()
            seen.append(line)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        out, err = p.communicate()
    srv.stop()
    return p.returncode, parse_report(out), "".join(seen) + err


rc, r, err = interrupt_group(1, "400ms")
ok(rc == 130 and r.get("unfinished") == 0 and r.get("completed", 0) > 0,
   "Ctrl-C to the whole group: the 8 answers in flight (400 ms server) are still collected "
   "(unfinished %s)" % r.get("unfinished"), err)
rc, r, err = interrupt_group(2, "3s")
ok(rc == 130 and r.get("unfinished", 0) > 0 and "stopping at once" in err,
   "Ctrl-C twice: stops at once, what was in flight counted as unfinished (%s)"
   % r.get("unfinished"), err)

# Past the end of the run the workers are draining already: Ctrl-C then
# stops at once; its 6 s ran, but it was interrupted (exit 130).
# Answers take 5 s: the first round comes at 5 s, the second would at 10 s.
srv = Serve("echo", "--delay", "5s")
p = subprocess.Popen([os.environ.get("SURGE", "build/surge"), "run", scn, "--target",
                      "127.0.0.1:%d" % srv.port, "-d", "6s", "-c", "8", "-o", "drain=15s", "-o", "timeout=8s",
                      "--progress"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                     start_new_session=True)
line = p.stderr.readline()
while line and not line.startswith("[  1s]"):
    line = p.stderr.readline()
time.sleep(5.8)  # from about 1 s in: past the end (6 s), before the answers (10 s)
os.killpg(p.pid, 2)
out, err = p.communicate(timeout=60)
srv.stop()
r = parse_report(out)
ok(p.returncode == 130 and "stopping at once" in err and "Interrupted after 6.00 s" in out and
   r.get("completed", 0) > 0 and r.get("completed") == r.get("unfinished"),
   "Ctrl-C in the drain after the end: stops at once, 6 s measured (exit %s, unfinished %s)"
   % (p.returncode, r.get("unfinished")), out + err)

done()
