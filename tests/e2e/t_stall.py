#!/usr/bin/env python3
# surge-test: alone (tests/run): stops a worker for a measured while
"""A request timeout is judged by when the answer arrived, not by when a
stalled client came round to read it. The worker is stopped (SIGSTOP) for
400 ms while its requests are in flight; the server answers each after
20 ms, so the kernel receives (and stamps) every answer long before its
100 ms deadline. When the worker runs again, both the deadline and the
socket are ready: the expiry reads what came by the deadline first, so
those answers complete and no request times out. (Before, the expiry ran
first and ~4 requests in flight at the stop were counted as timeouts the
server never caused.)

The other way round, the same stall with answers that come after the
deadline (150 ms against 100 ms): every request still times out and none
completes, so reading first invents no answer. And the first case again over
TLS, whose answers are stamped by surge's BIO as the records are read, and
over UDP (DNS against `surge serve dns`, no retries), where each datagram
has its own stamp: before, an answer that came in time was both a request
timeout and, read after its request was given up, an "unmatched" protocol
error."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import ROOT, SURGE, Serve, done, ok, write_scenario  # noqa: E402


def child_of(parent):
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/stat" % pid) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == parent:
                        return int(pid)
            except (OSError, ValueError, IndexError):
                pass
    return None


def stalled_run(delay, label, tls=False, udp=False):
    """A 3 s run at 200/s, timeout 100 ms, against echo (DNS over UDP with
    udp) answering after `delay`; its one worker stopped for 400 ms at
    ~1.2 s. The JSON report."""
    if udp:
        srv = Serve("dns", "--delay", delay)
        scn = write_scenario("""
local dns = require "surge.proto.dns"
return { target = "udp://127.0.0.1:%d",
         protocol = dns.udp { queries = "%s/scenarios/data/queries.txt", pipeline = 4 },
         connections = 8, rate = 200, duration = "3s", timeout = "100ms" }
""" % (srv.port, ROOT))
    else:
        srv = Serve("echo", "--delay", delay, *(["--tls"] if tls else []))
        scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "%s://127.0.0.1:%d", protocol = echo.new { size = 16 }, %s
         connections = 8, rate = 200, duration = "3s", timeout = "100ms" }
""" % ("tls" if tls else "tcp", srv.port,
           'tls = { ca = "%s.ca.pem" },' % srv.ready if tls else ""))
    js = os.path.join(tempfile.mkdtemp(prefix="surge-stall-"), "r.json")
    p = subprocess.Popen([SURGE, "run", scn, "-w", "1", "-q", "--no-progress", "--json", js],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker = None
    for _ in range(100):
        worker = child_of(p.pid)
        if worker:
            break
        time.sleep(0.02)
    time.sleep(1.2)
    stopped = False
    if worker:
        os.kill(worker, signal.SIGSTOP)
        stopped = True
        time.sleep(0.4)
        os.kill(worker, signal.SIGCONT)
    out, err = p.communicate(timeout=60)
    srv.stop()
    ok(stopped, "%s: the worker (pid %s) was stopped for 400 ms" % (label, worker))
    try:
        with open(js) as f:
            return p.returncode, json.load(f), err
    except (OSError, ValueError):
        return p.returncode, None, err


rc, j, err = stalled_run("20ms", "answers in time")
ok(j is not None, "answers in time: a JSON report", err)
if j:
    req, errs = j["totals"]["requests"], j["totals"]["errors"]
    ok(rc == 0, "answers in time: exit 0 (%d)" % rc, err)
    ok(errs["by_class"]["request_timeout"] == 0,
       "answers in time: no request timed out across the stall (%d)"
       % errs["by_class"]["request_timeout"])
    ok(req["sent"] > 500 and req["completed"] == req["sent"],
       "answers in time: every request sent was answered (%d sent, %d completed)"
       % (req["sent"], req["completed"]))

rc, j, err = stalled_run("20ms", "over TLS", tls=True)
ok(j is not None, "over TLS: a JSON report", err)
if j:
    req, errs = j["totals"]["requests"], j["totals"]["errors"]
    ok(errs["total"] == 0 and req["sent"] > 500 and req["completed"] == req["sent"],
       "over TLS: no error across the stall, every request answered (%d sent, %d completed, "
       "%d errors)" % (req["sent"], req["completed"], errs["total"]))

rc, j, err = stalled_run("20ms", "over UDP", udp=True)
ok(j is not None, "over UDP: a JSON report", err)
if j:
    req, errs = j["totals"]["requests"], j["totals"]["errors"]
    ok(errs["total"] == 0 and req["sent"] > 500 and req["completed"] == req["sent"],
       "over UDP: no timeout and no unmatched answer across the stall, every query answered "
       "(%d sent, %d completed, %d timeouts, %d protocol errors)"
       % (req["sent"], req["completed"], errs["by_class"]["request_timeout"],
          errs["by_class"]["protocol"]))

rc, j, err = stalled_run("150ms", "over UDP, answers late", udp=True)
ok(j is not None, "over UDP, answers late: a JSON report", err)
if j:
    req, errs = j["totals"]["requests"], j["totals"]["errors"]
    ok(req["completed"] == 0 and errs["by_class"]["request_timeout"] == req["sent"],
       "over UDP, answers late: none completed, every query timed out (%d sent, %d completed, "
       "%d timeouts)" % (req["sent"], req["completed"], errs["by_class"]["request_timeout"]))

rc, j, err = stalled_run("150ms", "answers late")
ok(j is not None, "answers late: a JSON report", err)
if j:
    req, errs = j["totals"]["requests"], j["totals"]["errors"]
    ok(req["completed"] == 0, "answers late: none completed (%d)" % req["completed"])
    ok(errs["by_class"]["request_timeout"] > 0 and
       errs["by_class"]["request_timeout"] + req["unfinished"] == req["sent"],
       "answers late: every request sent timed out or was cut by the end "
       "(%d sent, %d timeouts, %d unfinished)"
       % (req["sent"], errs["by_class"]["request_timeout"], req["unfinished"]))
done()
