#!/usr/bin/env python3
# surge-test: alone (tests/run): stops a worker for a measured while
"""A request timeout is judged by when the answer arrived, not by when a
stalled client came round to read it. The worker is stopped (SIGSTOP) for
600 ms while its requests are in flight; the server answers each after
20 ms, so the kernel receives (and stamps) every answer long before its
250 ms deadline. When the worker runs again, both the deadline and the
socket are ready: the expiry reads what came by the deadline first, so
those answers complete and no request times out. (Before, the expiry ran
first and ~4 requests in flight at the stop were counted as timeouts the
server never caused.)

The other way round, the same stall with answers that come after the
deadline (400 ms against 250 ms): every request still times out and none
completes, so reading first invents no answer. And the first case again over
TLS, whose answers are stamped by surge's BIO as the records are read, and
over UDP (DNS against `surge serve dns`, no retries), where each datagram
has its own stamp: before, an answer that came in time was both a request
timeout and, read after its request was given up, an "unmatched" protocol
error."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import ROOT, SURGE, Serve, children, done, ok, write_scenario  # noqa: E402


def stalled(scn, label):
    """Runs scn for its 3 s with its one worker stopped for 600 ms at
    ~1.2 s: (exit code, the JSON report or None, stderr)."""
    js = os.path.join(tempfile.mkdtemp(prefix="surge-stall-"), "r.json")
    p = subprocess.Popen([SURGE, "run", scn, "-w", "1", "-q", "--no-progress", "--json", js],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker = None
    for _ in range(100):
        worker = (children(p.pid) or [None])[0]
        if worker:
            break
        time.sleep(0.02)
    time.sleep(1.2)
    stopped = False
    if worker:
        os.kill(worker, signal.SIGSTOP)
        stopped = True
        time.sleep(0.6)
        os.kill(worker, signal.SIGCONT)
    out, err = p.communicate(timeout=60)
    ok(stopped, "%s: the worker (pid %s) was stopped for 600 ms" % (label, worker))
    try:
        with open(js) as f:
            return p.returncode, json.load(f), err
    except (OSError, ValueError):
        return p.returncode, None, err


def stalled_run(delay, label, tls=False, udp=False):
    """200 requests a second, timeout 250 ms (far from any hiccup of the
    server's), against echo (DNS over UDP
    with udp) answering after `delay`, across the stall."""
    if udp:
        srv = Serve("dns", "--delay", delay)
        scn = write_scenario("""
local dns = require "surge.proto.dns"
return { target = "udp://127.0.0.1:%d",
         protocol = dns.udp { queries = "%s/scenarios/data/queries.txt", pipeline = 4 },
         connections = 8, rate = 200, duration = "3s", timeout = "250ms" }
""" % (srv.port, ROOT))
    else:
        srv = Serve("echo", "--delay", delay, *(["--tls"] if tls else []))
        scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "%s://127.0.0.1:%d", protocol = echo.new { size = 16 }, %s
         connections = 8, rate = 200, duration = "3s", timeout = "250ms" }
""" % ("tls" if tls else "tcp", srv.port,
           'tls = { ca = "%s.ca.pem" },' % srv.ready if tls else ""))
    try:
        return stalled(scn, label)
    finally:
        srv.stop()


def in_time(label, **kw):
    """Answers in time across the stall: exit 0, no error of any class,
    every request sent answered."""
    rc, j, err = stalled_run("20ms", label, **kw)
    ok(j is not None, "%s: a JSON report" % label, err)
    if j:
        req, errs = j["totals"]["requests"], j["totals"]["errors"]
        by = errs["by_class"]
        ok(rc == 0 and errs["total"] == 0 and req["sent"] > 500 and req["completed"] == req["sent"],
           "%s: exit %d, every request sent answered across the stall (%d sent, %d completed, "
           "%d timeouts, %d protocol errors, %d errors)" % (label, rc, req["sent"], req["completed"],
                                                             by["request_timeout"], by["protocol"],
                                                             errs["total"]), err)


def none_completed(label, j, err):
    """Answers that come after the deadline: none completes; every request
    sent timed out (or, over TCP, was cut by the run's end)."""
    ok(j is not None, "%s: a JSON report" % label, err)
    if j:
        req, errs = j["totals"]["requests"], j["totals"]["errors"]
        timeouts = errs["by_class"]["request_timeout"]
        ok(req["completed"] == 0 and timeouts > 0 and timeouts + req["unfinished"] == req["sent"],
           "%s: none completed, every request sent timed out or was cut by the end (%d sent, "
           "%d completed, %d timeouts, %d unfinished)"
           % (label, req["sent"], req["completed"], timeouts, req["unfinished"]), err)


def late(label, **kw):
    rc, j, err = stalled_run("400ms", label, **kw)
    none_completed(label, j, err)


in_time("answers in time")
in_time("over TLS", tls=True)
in_time("over UDP", udp=True)
late("answers late")
late("over UDP, answers late", udp=True)


def close_delimited_server():
    """An HTTP/1.0 server whose answer's head and body come after 20 ms and
    whose body ends with the connection, 500 ms later: each answer is whole
    only at the close, long after a 250 ms timeout."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def serve(conn):
        with conn:
            try:
                conn.recv(4096)
                time.sleep(0.02)
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nbody")
                time.sleep(0.5)
            except OSError:
                pass

    def accept():
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return ls


# The stream's end has no stamp: read for an expired request it is the
# timeout, not the end of a close-delimited body (which completed such an
# answer 466-500 ms after it was sent, against a 100 ms timeout).
ls = close_delimited_server()
scn = write_scenario("""
local http = require "surge.proto.http"
return { target = "http://127.0.0.1:%d", protocol = http.client { path = "/" },
         connections = 8, rate = 20, duration = "3s", timeout = "250ms" }
""" % ls.getsockname()[1])
rc, j, err = stalled(scn, "close-delimited HTTP")
ls.close()
none_completed("close-delimited HTTP", j, err)
done()
