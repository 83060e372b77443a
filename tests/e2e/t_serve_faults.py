#!/usr/bin/env python3
"""surge run against every fault mode of surge serve (issue 12), for echo and
dns, and the connection faults for rtsp: a small bounded run at a modest rate
per mode, and for each the error class surge reports, its exit code, the
accounting law (completed + unfinished <= sent <= completed + unfinished +
errors) and, where the server can count it, that surge saw exactly what the
server did (no answer invented, none lost). Numbers come from --json and the
server's --report. Two checks are TAP TODOs: client defects, named there."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import ROOT, Serve, done, ok, surge, write_scenario  # noqa: E402

QUERIES = os.path.join(ROOT, "scenarios", "data", "queries.txt")

ECHO = """
local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%(port)d",
  protocol = echo.new { size = 64, pipeline = 1, verify = true },
  connections = 4,
  %(rate)s
  duration = "%(dur)s",
  timeout = "%(timeout)s",
}
"""

RTSP = """
local rtsp = require "surge.proto.rtsp"
return {
  target = "rtsp://127.0.0.1:%(port)d/live",
  protocol = rtsp.reader { transport = "tcp", watch = "1s" },
  connections = 4,
  duration = "%(dur)s",
  timeout = "%(timeout)s",
}
"""

DNS = """
local dns = require "surge.proto.dns"
return {
  target = "tcp://127.0.0.1:%(port)d",
  protocol = dns.tcp { queries = "%(queries)s", pipeline = %(pipeline)d },
  connections = 4,
  %(rate)s
  duration = "%(dur)s",
  timeout = "%(timeout)s",
}
"""

# A --listen port out of range is exit 2 before anything listens, never a
# port getaddrinfo wrapped to 16 bits (99999 listened on 34463).
for listen in ("127.0.0.1:99999", "127.0.0.1:65537", "[::1]:70000", "127.0.0.1:-1", "127.0.0.1:7a"):
    rc, out, err = surge("serve", "echo", "--listen", listen, timeout=10)
    port = listen.rsplit(":", 1)[1]
    ok(rc == 2 and "--listen '%s': port '%s' is not a number from 0 to 65535" % (listen, port) in err,
       "serve --listen %s: exit 2, the port named" % listen, err)


class Run:
    """One `surge run` (1 worker, --json) against `surge serve PROTO FAULT...`."""

    def __init__(self, proto, fault, rate=200, dur="2s", timeout="1s", pipeline=4):
        """rate None: the closed model (pipeline is dns's; echo's is 1)."""
        self.name = "%s %s" % (proto, " ".join(map(str, fault)))
        self.srv = Serve(proto, *fault, workers=1)
        text = {"echo": ECHO, "dns": DNS, "rtsp": RTSP}[proto]
        scn = write_scenario(text % dict(port=self.srv.port, dur=dur, timeout=timeout,
                                         rate="rate = %d," % rate if rate else "",
                                         queries=QUERIES, pipeline=pipeline))
        js = os.path.join(tempfile.mkdtemp(prefix="surge-faults-"), "run.json")
        self.rc, self.out, self.err = surge("run", scn, "-w", "1", "--no-progress", "--json", js,
                                            timeout=60)
        self.exited = self.srv.proc.poll()  # --die-after: the server is gone by now
        self.seen = self.srv.stop()
        try:
            with open(js) as f:
                import json
                self.doc = json.load(f)
        except (OSError, ValueError):
            self.doc = None
        t = (self.doc or {}).get("totals", {})
        self.req = t.get("requests", {})
        self.conns = t.get("connections", {})
        self.bytes = t.get("bytes", {})
        self.errors = t.get("errors", {}).get("total", -1)
        self.classes = {k: v for k, v in t.get("errors", {}).get("by_class", {}).items() if v}
        self.counters = (self.doc or {}).get("counters", {})
        self.sessions = t.get("sessions_completed", -1)

    def detail(self):
        return "requests %s sessions %s\nconnections %s\nerrors %s %s\nserver %s\n%s" % (
            self.req, self.sessions, self.conns, self.errors, self.classes, self.seen,
            self.err[-2000:])

    def check(self, rc, classes, none_ok=False):
        """The JSON exists, the exit code is rc (and the JSON says so), the
        error classes are non-empty (unless none_ok) and within `classes`,
        the law holds."""
        ok(self.doc is not None, "%s: surge wrote the JSON report" % self.name, self.err)
        ok(self.rc == rc and self.doc and self.doc["outcome"]["exit_code"] == rc,
           "%s: exit %d (got %s)" % (self.name, rc, self.rc), self.detail())
        ok((self.classes or none_ok) and set(self.classes) <= set(classes),
           "%s: errors are %s (%s)" % (self.name, " or ".join(sorted(classes)), self.classes),
           self.detail())
        s, c, u = self.req.get("sent", -1), self.req.get("completed", -1), self.req.get("unfinished", -1)
        ok(0 <= c + u <= s <= c + u + self.errors,
           "%s: completed %d + unfinished %d <= sent %d <= that + errors %d"
           % (self.name, c, u, s, self.errors), self.detail())

    @property
    def completed(self):
        return self.req.get("completed", -1)

    def latency_p50(self):
        h = (self.doc or {}).get("histograms", {}).get("latency") or {}
        return (h.get("percentiles") or {}).get("50")


# --reset-after: the bytes before the limit are answered, then RST. Echo
# requests are 64 bytes, so a connection carries 10 answers at most. A reset
# that catches requests in flight is an error for each; one with none in
# flight (echo's, after its 10th answer) lost nothing: conn.reset_idle.
for proto, limit in (("echo", 640), ("dns", 1000)):
    r = Run(proto, ["--reset-after", limit])
    r.check(0, {"reset"}, none_ok=True)
    idle = r.counters.get("conn.reset_idle", 0)
    # (but for the 4 connections the run's end closes: the server may
    # reset one as surge closes it)
    ok(r.seen.get("resets", 0) > 0 and idle + r.classes.get("reset", 0) >= r.seen.get("resets") - 4,
       "%s: each of the server's %s resets seen: %d with requests lost (errors), %d idle"
       % (r.name, r.seen.get("resets"), r.classes.get("reset", 0), idle), r.detail())
    ok(0 < r.completed <= r.seen.get("replies", -1),
       "%s: %d completed, never more than the server's %s replies"
       % (r.name, r.completed, r.seen.get("replies")), r.detail())
    if proto == "echo":
        ok(r.completed <= 10 * r.conns.get("opened", 0),
           "%s: at most 10 answers per connection (%d over %s)"
           % (r.name, r.completed, r.conns.get("opened")), r.detail())

# --garbage: the server says how many replies it garbled; each is one
# protocol error in surge, never a completed request. Echo checks its bytes
# (verify = true); dns keeps the length and the ID, so its parser judges.
for proto in ("echo", "dns"):
    r = Run(proto, ["--garbage", "20%"])
    r.check(0, {"protocol"})
    g = r.seen.get("garbled", -1)
    ok(g > 0 and r.classes.get("protocol") == g,
       "%s: protocol errors %s = replies garbled %s" % (r.name, r.classes.get("protocol"), g),
       r.detail())
    ok(r.completed + g == r.seen.get("replies", -1) == r.req.get("sent"),
       "%s: completed %d + garbled %d = replies %s = sent %s"
       % (r.name, r.completed, g, r.seen.get("replies"), r.req.get("sent")), r.detail())
    why = sum(v for k, v in r.counters.items() if k.startswith("protocol."))
    ok(why == g, "%s: the protocol.* counters say why, once per garbled reply (%s)"
       % (r.name, {k: v for k, v in r.counters.items() if k.startswith("protocol.")}), r.detail())

# --drip: answers arrive a few bytes at a time; surge reassembles them, with
# no error, and the latency shows the drip (echo: 64 bytes in 8 writes 10 ms
# apart, >= 70 ms; dns: ~50 bytes 1 ms apart). The rate is what the drip
# lets 4 connections carry, with room for a loaded machine (echo's pipeline
# is 1: at 20/s a server slowed past 200 ms an answer overflowed the backlog).
for proto, drip, floor, rate in (("echo", "8/10ms", 70e6, 10), ("dns", "1/1ms", 30e6, 20)):
    r = Run(proto, ["--drip", drip], rate=rate)
    ok(r.rc == 0 and r.errors == 0, "%s: exit 0, no errors (%s)" % (r.name, r.classes), r.detail())
    ok(r.completed == r.req.get("sent") == r.seen.get("replies") == 2 * rate,
       "%s: all %d requests completed (%d)" % (r.name, 2 * rate, r.completed), r.detail())
    p50 = r.latency_p50()
    ok(p50 is not None and p50 >= floor, "%s: p50 %.1f ms >= %.0f ms"
       % (r.name, (p50 or 0) / 1e6, floor / 1e6), r.detail())

# --half-close: one answer per connection, then FIN while the server keeps
# reading. A connection shut with a request on it loses it (an unexpected
# close); one shut idle, its answer in, loses nothing: conn.closed_by_server,
# no error (a server's idle timeout is not a fault).
for proto in ("echo", "dns"):
    r = Run(proto, ["--half-close"], rate=100)
    r.check(0, {"unexpected_close"}, none_ok=True)
    hc = r.seen.get("half_closed", -1)
    idle = r.counters.get("conn.closed_by_server", 0)
    ok(0 < idle <= hc and r.errors <= r.req.get("sent", 0) - r.completed,
       "%s: shut idle, %d connections closed_by_server of the %s shut, no error for them "
       "(errors %d: requests lost)" % (r.name, idle, hc, r.errors), r.detail())
    ok(hc > 0 and 0 < r.completed <= r.seen.get("accepted", 0),
       "%s: at most one answer per connection (%d over %s accepted, %s shut)"
       % (r.name, r.completed, r.seen.get("accepted"), hc), r.detail())
    ok(r.completed <= r.seen.get("replies", -1),
       "%s: no answer the server did not send" % r.name, r.detail())

# --close-on-accept: connections open and die at once; nothing is measured.
for proto in ("echo", "dns"):
    r = Run(proto, ["--close-on-accept"])
    r.check(1, {"reset", "unexpected_close"})
    ok(r.completed == 0 and r.seen.get("fault_closes", 0) == r.seen.get("accepted", -1) > 0
       and r.seen.get("bytes_in") == 0,
       "%s: %s connections accepted and closed, nothing completed" % (r.name, r.seen.get("accepted")),
       r.detail())
    # Closed before they answered: each slot backs off (10 ms doubling
    # to 1 s: 8 connects in its first 2 s), no storm (thousands before).
    ok(r.seen.get("accepted", 0) <= 4 * 12,
       "%s: the 4 slots back off: %s connections in 2 s" % (r.name, r.seen.get("accepted")),
       r.detail())

# The pool cannot hold connections the server closes as they open: the held
# note says so with the counts, never that connects were slow (it did before:
# no connect failed, so it blamed their p99). 200 asked, think time as in the
# user's trial; connect_rate keeps the client from ever seeing all 200 open
# in one batch of connects.
HELD = """
local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64 },
  connections = 200, think = "10ms", connect_rate = 2000, duration = "2s",
}
"""
def faulted_run(fault, scenario):
    """surge run of scenario (with %d for the port) against `surge serve echo
    FAULT...`: (exit code, its JSON or {}, stdout, stderr)."""
    with Serve("echo", *fault, workers=1) as srv:
        js = os.path.join(tempfile.mkdtemp(prefix="surge-faults-"), "run.json")
        rc, out, err = surge("run", write_scenario(scenario % srv.port), "-w", "1",
                             "--no-progress", "--json", js, timeout=60)
        try:
            with open(js) as f:
                return rc, json.load(f), out, err
        except (OSError, ValueError):
            return rc, {}, out, err


rc, doc, out, err = faulted_run(["--close-on-accept"], HELD)
held = doc.get("outcome", {}).get("connections_held", {})
cnt = doc.get("counters", {})
opened = doc.get("totals", {}).get("connections", {}).get("opened", -1)
reset, closed = cnt.get("conn.lost.reset", 0), cnt.get("conn.lost.unexpected_close", 0)
idle = cnt.get("conn.closed_by_server", 0)
want = "the server closed or reset %d of the %d connections opened (" % (reset + closed + idle, opened)
note = held.get("note") or ""
ok(held.get("short") is True and note.startswith(want) and "slow" not in note
   and opened > 200 and reset + closed + idle >= opened - 200,
   "--close-on-accept, 200 asked: the held note names the server's closes, counted, not slow "
   "connects (%s)" % note, "%s\n%s\n%s" % (held, cnt, err[-1500:]))
for label, k in (("connection reset", reset), ("unexpected close", closed), ("closed with none in flight", idle)):
    ok(k == 0 or ("%s %d" % (label, k)) in note, "the note counts %s: %d" % (label, k), note)

# A slow server, not a slow client: answers dripped over ~640 ms, 10
# connections at 20 requests/s can carry ~15/s. What is dropped is dropped
# with every pipeline full, and the warning says so with the server's
# latency (before: "the client, not the server, may be the bottleneck").
DRIP = """
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64 },
         rate = 20, duration = "3s", connections = 10 }
"""
rc, doc, out, err = faulted_run(["--drip", "8/90ms"], DRIP)
req = doc.get("totals", {}).get("requests", {})
note = doc.get("outcome", {}).get("rate_note") or ""
ok(req.get("dropped", 0) > 0 and req.get("dropped_busy") == req.get("dropped")
   and ("%d were dropped while every open connection had its pipeline full, waiting for answers "
        "(service p50 " % req.get("dropped", 0)) in note
   and "10 connections x pipeline 1 at that latency" in note and "under the 20.0/s intended" in note
   and "the client" not in note and ("warning: " + note) in out,
   "--drip at ~640 ms, 10 connections, 20/s: the drops are the full pipelines' (%s)" % note,
   "%s\n%s%s" % (req, out, err[-1000:]))

# --never-read: requests sit in the kernel's buffers until they time out.
for proto in ("echo", "dns"):
    r = Run(proto, ["--never-read"], timeout="500ms")
    r.check(1, {"request_timeout"})
    ok(r.completed == 0 and r.seen.get("bytes_in") == 0 and r.seen.get("accepted", 0) > 0,
       "%s: nothing read, nothing completed" % r.name, r.detail())

# --close-after 5: five answers, then the server closes the connection.
for proto in ("echo", "dns"):
    r = Run(proto, ["--close-after", "5"])
    r.check(0, {"unexpected_close", "reset"}, none_ok=True)
    ok(r.counters.get("conn.closed_by_server", 0) + r.errors > 0,
       "%s: each close counted: idle as conn.closed_by_server (%s), with requests lost as "
       "errors (%d)" % (r.name, r.counters.get("conn.closed_by_server"), r.errors), r.detail())
    ok(r.seen.get("fault_closes", 0) > 0 and 0 < r.completed <= 5 * r.conns.get("opened", 0),
       "%s: at most 5 answers per connection (%d over %s)"
       % (r.name, r.completed, r.conns.get("opened")), r.detail())
    ok(r.completed <= r.seen.get("replies", -1),
       "%s: no answer the server did not send (%d of %s)"
       % (r.name, r.completed, r.seen.get("replies")), r.detail())

# A client defect this mode shows (the client's hot path is being rewritten
# elsewhere, so it is a TODO here): closed model, 8 queries in flight, and the
# server closes after 3 answers with queries it did not read, so its close is
# an RST. The 3 answers are in surge's socket before the RST; surge, still
# writing its pipeline, gets ECONNRESET from write() and closes without
# reading them: answers that arrived are counted as `reset` errors.
r = Run("dns", ["--close-after", "3"], rate=None, dur="1s", pipeline=8)
r.check(0, {"unexpected_close", "reset"})
ok(r.completed <= r.seen.get("replies", -1),
   "%s, closed model: no answer the server did not send" % r.name, r.detail())
ok(r.bytes.get("in") == r.seen.get("bytes_out") and r.completed == r.seen.get("replies"),
   "%s, closed model: every answer the server wrote is read and counted (completed %d of "
   "%s replies, %s of %s bytes)" % (r.name, r.completed, r.seen.get("replies"), r.bytes.get("in"),
                                    r.seen.get("bytes_out")), r.detail())

# --die-after 1s in a 3 s run: answers, then the connections drop and every
# reconnect is refused.
for proto in ("echo", "dns"):
    r = Run(proto, ["--die-after", "1s"], dur="3s")
    r.check(0, {"connect_refused", "unexpected_close", "reset"})
    ok(r.exited == 0, "%s: the server exited by itself, status 0 (%s)" % (r.name, r.exited),
       r.detail())
    ok(r.classes.get("connect_refused", 0) > 0 and
       r.classes.get("unexpected_close", 0) + r.classes.get("reset", 0) +
       r.counters.get("conn.closed_by_server", 0) > 0,
       "%s: connections dropped (idle ones conn.closed_by_server), then connects refused"
       % r.name, r.detail())
    ok(0 < r.completed <= r.seen.get("replies", -1),
       "%s: %d completed before the end, of the server's %s replies"
       % (r.name, r.completed, r.seen.get("replies")), r.detail())

# rtsp takes the connection faults. RTSP readers are sessions: the law is
# about requests, so what is checked is the errors' class, and (issue 12,
# "RTSP failures count as completed sessions", a client defect) that a
# session that failed is not counted as completed.
for fault, classes, step in ((["--reset-after", 300], {"reset"}, "setup"),
                             (["--close-on-accept"], {"reset", "unexpected_close"}, "options")):
    r = Run("rtsp", fault)
    ok(r.doc is not None and r.classes and set(r.classes) <= classes,
       "%s: errors are %s (%s)" % (r.name, " or ".join(sorted(classes)), r.classes), r.detail())
    failed = sum(v for k, v in r.counters.items() if k.startswith("rtsp.error.%s." % step))
    ok(failed > 0 and failed == r.errors,
       "%s: every session fails at %s (%d of %d errors)" % (r.name, step.upper(), failed, r.errors),
       r.detail())
    ok(r.seen.get("accepted", 0) <= 4 * 12,
       "%s: failed sessions back off: %s connections for 4 readers in 2 s"
       % (r.name, r.seen.get("accepted")), r.detail())
    ok(r.sessions != 0 or "surge: no session completed: connections opened but every session "
       "failed" in r.err and "nothing was measured" not in r.err,
       "%s: says no session completed (not 'nothing was measured')" % r.name, r.detail())
    # A session still setting up when the run ends is cut short, not
    # completed (the CI failure of 2026-12-04 counted one as completed);
    # the exit code is 1 unless such a session was left to say the run
    # measured something.
    unfinished = (r.doc or {}).get("totals", {}).get("sessions_unfinished", -1)
    ok(r.sessions == 0 and 0 <= unfinished <= 4 and r.rc == (1 if unfinished == 0 else 0),
       "%s: no session completed, exit 1 (sessions_completed %s, unfinished %s, exit %s)"
       % (r.name, r.sessions, unfinished, r.rc), r.detail())

# The server's sockets send at once (TCP_NODELAY): set on the listener and
# inherited by each accepted socket (no call per connection). Read off an
# accepted socket itself, duplicated out of the worker with pidfd_getfd.
def server_nodelay():
    import ctypes
    import socket
    import time
    libc = ctypes.CDLL(None, use_errno=True)
    with Serve("echo") as srv:
        c = socket.create_connection(("127.0.0.1", srv.port))
        c.sendall(b"x")
        c.recv(1)
        me, there = c.getsockname(), c.getpeername()
        time.sleep(0.1)
        # the server and its workers only (other programs on this machine
        # hold connections of their own)
        pids = [srv.proc.pid]
        for t in os.listdir("/proc/%d/task" % srv.proc.pid):
            with open("/proc/%d/task/%s/children" % (srv.proc.pid, t)) as f:
                pids += [int(x) for x in f.read().split()]
        for pid in pids:
            try:
                fds = os.listdir("/proc/%d/fd" % pid)
            except OSError:
                continue
            for fd in fds:
                try:
                    link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                except OSError:
                    continue
                if not link.startswith("socket:"):
                    continue
                pidfd = libc.syscall(434, pid, 0)  # pidfd_open
                if pidfd < 0:
                    continue
                dup = libc.syscall(438, pidfd, int(fd), 0)  # pidfd_getfd
                os.close(pidfd)
                if dup < 0:
                    continue
                s = socket.socket(fileno=dup)
                try:
                    ends = (s.getpeername(), s.getsockname()) if s.type == socket.SOCK_STREAM else None
                except OSError:
                    ends = None
                if ends == (me, there):
                    v = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                    s.close()
                    c.close()
                    return v
                s.close()
        c.close()
    return None


nd = server_nodelay()
ok(nd not in (None, 0), "an accepted socket has TCP_NODELAY (from the listener)", nd)

# Out of file descriptors, a worker pauses accepting for 100 ms each time
# (the pause fired at once after its first use: 3.4 million EMFILE accept
# errors in 2 s, a whole core spun). 60 fds, 150 connections held ~1.5 s.
def out_of_fds():
    import json
    import resource
    import socket
    import subprocess
    import time
    from tap import SURGE, free_port, wait_file
    tmp = tempfile.mkdtemp(prefix="surge-emfile-")
    port, rep, ready = free_port(), os.path.join(tmp, "r.json"), os.path.join(tmp, "ready")
    p = subprocess.Popen([SURGE, "serve", "echo", "-w", "1", "--listen", "127.0.0.1:%d" % port,
                          "--report", rep, "--ready-file", ready],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (60, 60)))
    socks = []
    try:
        wait_file(ready)
        for _ in range(150):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            socks.append(c)
        time.sleep(1.5)
    finally:
        for c in socks:
            c.close()
        p.terminate()
        p.wait(10)
    with open(rep) as f:
        return json.load(f)


r = out_of_fds()
ok(0 < r.get("accept_errors", 0) <= 40 and r.get("accepted", 0) > 0,
   "out of fds: accepting pauses 100 ms at each EMFILE (%s accept errors in 1.5 s, "
   "%s accepted)" % (r.get("accept_errors"), r.get("accepted")), r)

done()
