#!/usr/bin/env python3
"""DNS over UDP when answers are lost or truncated: dns.udp { retries = 2 }
against `surge serve dns --drop 20%` resends each lost query on its socket
(same ID) and only ~drop^3 of the queries time out, with every datagram
accounted for (server datagrams = sent + dns.retries; dropped = retries +
timeouts - late answers); dns.udp { tc = "tcp" } with answers too big for
512 bytes asks every truncated query again over one TCP connection and all
answers with records arrive that way (counts match the server's); a server
that refuses TCP fails those queries as connect refused, counted apart; and
against a real unbound over UDP, rcodes match its zone and its truncated
answers come back over TCP."""
import json
import os
import shutil
import socket
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import (ROOT, Serve, Server, done, free_port, ok, recv_exact, surge, udp_serve,  # noqa: E402
                 udp_tcp_pair, write_scenario)

QUERIES = os.path.join(ROOT, "scenarios", "data", "queries.txt")

SCENARIO = """
local dns = require "surge.proto.dns"
return {
  target = "udp://127.0.0.1:%(port)d",
  protocol = dns.udp { queries = %(queries)s, pipeline = %(pipeline)d, edns = %(edns)s, %(opts)s },
  connections = %(conns)d,
  rate = %(rate)d,
  duration = "%(dur)s",
  timeout = "%(timeout)s",
}
"""


def scenario(**kw):
    kw.setdefault("queries", '"%s"' % QUERIES)
    kw.setdefault("pipeline", 32)
    kw.setdefault("edns", "1232")
    kw.setdefault("timeout", "2s")
    kw.setdefault("opts", "")
    return write_scenario(SCENARIO % kw)


def run(scn, *args):
    path = os.path.join(tempfile.mkdtemp(prefix="surge-udp-retry-"), "r.json")
    rc, out, err = surge("run", scn, "--no-progress", "-w", "1", "--json", path, *args, timeout=90)
    try:
        with open(path) as f:
            rep = json.load(f)
    except (OSError, ValueError):
        rep = {}
    t = rep.get("totals", {})
    return (rc, t.get("requests", {}), t.get("errors", {}).get("by_class", {}),
            rep.get("counters", {}), out + err)


def rcodes(c):
    return sum(v for k, v in c.items() if k.startswith("dns.rcode."))


# 1. retries = 2 against --drop 20%: a query is lost only when all three
# tries are (0.2^3 = 0.8%, vs 20% without retries). Each try waits 300 ms
# (far above loopback latency, so no answer comes late), 3 tries fit the
# 1 s timeout.
srv = Serve("dns", "--drop", "0.2", "--seed", "7", workers=1)
rc, req, errs, c, log = run(scenario(port=srv.port, conns=20, pipeline=64, rate=2000, dur="3s",
                                     timeout="1s", opts='retries = 2, retry_after = "300ms"'))
seen = srv.stop()
sent, done_n = req.get("sent", 0), req.get("completed", 0)
tmo, retries, late = errs.get("request_timeout", 0), c.get("dns.retries", 0), c.get("dns.late_answers", 0)
ok(sent == req.get("intended") == 6000 and req.get("unfinished") == 0,
   "every intended query sent (%s of 6000), none unfinished" % sent, log)
ok(seen.get("udp_requests") == sent + retries and retries > 0,
   "server datagrams %s == sent %s + dns.retries %s" % (seen.get("udp_requests"), sent, retries), log)
ok(seen.get("dropped") == retries + tmo - late,
   "server dropped %s == retries %s + timeouts %s - late answers %s" %
   (seen.get("dropped"), retries, tmo, late), log)
ok(done_n + tmo == sent and rcodes(c) == done_n and errs.get("protocol", 0) == 0,
   "completed %s + timeouts %s == sent; each answer's rcode counted once, nothing unmatched" %
   (done_n, tmo), (c, errs))
ok(0.002 < tmo / max(sent, 1) < 0.02,
   "timeouts fall to ~drop^3: %.2f%% of sent (0.8%% expected; 20%% without retries)" %
   (100.0 * tmo / max(sent, 1)))
ok(0.15 < retries / max(sent, 1) < 0.35,
   "~25%% of queries resent at least once: dns.retries %s for %s queries" % (retries, sent))

# 1b. Answers held 300 ms, tries every 200 ms: each query is resent once
# before its first answer comes; that answer settles it, and the second one
# (to the resend) is a late answer, counted once and not an error.
srv = Serve("dns", "--delay", "300ms", workers=1)
rc, req, errs, c, log = run(scenario(port=srv.port, conns=10, pipeline=32, rate=200, dur="2s",
                                     timeout="1s", opts='retries = 2, retry_after = "200ms"'))
seen = srv.stop()
retries, late = c.get("dns.retries", 0), c.get("dns.late_answers", 0)
ok(rc == 0 and req.get("completed") == req.get("sent") == 400 and sum(errs.values()) == 0 and
   rcodes(c) == 400, "a slow server: 400 of 400 answered once each, no errors, rcodes once", log)
# (A loaded machine may see a few answers later than the second try.)
ok(400 <= retries <= 420 and seen.get("udp_requests") == 400 + retries,
   "each query resent once, at 200 ms (dns.retries %s, server read %s)" %
   (retries, seen.get("udp_requests")), (c, seen))
# The run ends when nothing is in flight: the last resends' answers may come
# after it; those that came before are late answers, never errors.
ok(0.8 * retries <= late <= retries,
   "answers to the resends are late answers (%s of %s; the rest came after the end)" %
   (late, retries), c)

# 1b'. The same server without retries, a 200 ms timeout: each query times out
# once, and its answer, when it comes, is a late answer: not a second error
# (it was a protocol error too, 385 errors for 200 queries).
srv = Serve("dns", "--delay", "300ms", workers=1)
rc, req, errs, c, log = run(scenario(port=srv.port, conns=40, pipeline=32, rate=100, dur="2s",
                                     timeout="200ms"))
srv.stop()
sent, late = req.get("sent", 0), c.get("dns.late_answers", 0)
ok(sent > 150 and errs.get("request_timeout") == sent and sum(errs.values()) == sent and
   0.8 * sent <= late <= sent,
   "no retries, every answer past the timeout: %d timeouts for %d queries, no other error, "
   "%d late answers (errors %s)" % (errs.get("request_timeout", 0), sent, late, errs), log)

# 1c. Without retries the same server loses ~20%: the control.
srv = Serve("dns", "--drop", "0.2", "--seed", "7", workers=1)
rc, req, errs, c, log = run(scenario(port=srv.port, conns=20, pipeline=64, rate=2000, dur="2s",
                                     timeout="300ms"))
seen = srv.stop()
ok(0.15 < errs.get("request_timeout", 0) / max(req.get("sent", 1), 1) < 0.3 and
   "dns.retries" not in c, "without retries ~20%% time out (%s of %s), no dns.retries" %
   (errs.get("request_timeout"), req.get("sent")), log)

# 2. tc = "tcp": 40 addresses per answer need 669+ bytes; without EDNS (512)
# every answer with records is truncated and asked again over TCP.
srv = Serve("dns", "--records", "40", workers=1)
rc, req, errs, c, log = run(scenario(port=srv.port, conns=5, pipeline=4, rate=500, dur="2s",
                                     edns="false", opts='tc = "tcp"'))
seen = srv.stop()
tc = c.get("dns.tc", 0)
ok(rc == 0 and sum(errs.values()) == 0 and req.get("completed") == req.get("sent") == 1000,
   "tc = tcp: 1000 of 1000 answered, no errors", log)
ok(tc > 0 and tc == seen.get("truncated") == c.get("dns.tc_retried_tcp"),
   "dns.tc %s == server truncated %s == dns.tc_retried_tcp %s" %
   (tc, seen.get("truncated"), c.get("dns.tc_retried_tcp")), c)
ok(seen.get("accepted") == 1 and seen.get("udp_requests") == 1000 and
   seen.get("replies") == 1000 + tc,
   "one TCP connection, opened on first use and reused (server accepted %s); server replies %s "
   "== 1000 datagrams + %s over TCP" % (seen.get("accepted"), seen.get("replies"), tc), seen)
ok(c.get("dns.answers.with_records") == tc and rcodes(c) == 1000,
   "every answer with records arrived over TCP (%s), each rcode counted once (%s)" %
   (c.get("dns.answers.with_records"), rcodes(c)), c)
ok(c.get("dns.rcode.NXDOMAIN") == seen.get("nxdomain"),
   "NXDOMAIN: surge %s = server %s" % (c.get("dns.rcode.NXDOMAIN"), seen.get("nxdomain")))


# 3. A server that truncates every answer but refuses TCP: each query fails
# as connect refused, counted apart under dns.tc_tcp.connect_refused.
def truncating_server(sock, stop):
    # QR, TC and RD; the question echoed, no records (RFC 1035 4.1.1).
    udp_serve(sock, stop, lambda q: [q[:2] + bytes([0x83, 0x00]) + q[4:6] + b"\0\0\0\0\0\0" +
                                     q[12:len(q) - 11]] if len(q) >= 12 else [])


# The UDP port's TCP twin is held bound and not listening, so a connect to
# it is refused whatever else runs on this machine.
usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    usock.bind(("127.0.0.1", 0))
    port = usock.getsockname()[1]
    tsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        tsock.bind(("127.0.0.1", port))
        break
    except OSError:
        tsock.close()
        usock.close()
        usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
stop = threading.Event()
th = threading.Thread(target=truncating_server, args=(usock, stop), daemon=True)
th.start()
rc, req, errs, c, log = run(scenario(port=port, conns=2, pipeline=2, rate=50, dur="1s",
                                     opts='tc = "tcp"'))
stop.set()
th.join()
usock.close()
tsock.close()
ok(req.get("sent") == 50 and c.get("dns.tc") == 50 and errs.get("connect_refused") == 50 and
   c.get("dns.tc_tcp.connect_refused") == 50 and req.get("completed") == 0,
   "TCP refused: 50 truncated, 50 connect refused (dns.tc_tcp.connect_refused %s)" %
   c.get("dns.tc_tcp.connect_refused"), log)
ok(rc == 1 and errs.get("udp_refused") == 0, "nothing measured: exit 1 (got %d)" % rc, log)
ok(c.get("dest:127.0.0.1:%d:failed" % port) == 50,
   "each refused TCP connect is one failed connection to the destination (%s)" %
   c.get("dest:127.0.0.1:%d:failed" % port), c)

# 3a. The fallback connection after a bad length prefix. The server
# truncates every UDP answer and answers over TCP, but its 3rd TCP answer
# has a lying prefix: 5 bytes too long (the stream is read from the wrong
# place after it), or a zero-length frame instead of the answer (no message
# is shorter than its ID). Like a plain TCP connection, the fallback one
# closes when a query on it times out, or at once on a length that cannot
# be right, and the next truncated answer opens a new one: only the queries
# on the broken connection are lost, not the rest of the run.
def tcp_server(lsock, stop, mode, seen):
    lsock.settimeout(0.1)
    n = [0]

    def serve(s):
        try:
            while True:
                h = recv_exact(s, 2)
                q = h and recv_exact(s, h[0] << 8 | h[1])
                if not q:
                    return
                n[0] += 1
                # QR, RD, RA; the question echoed (without its OPT RR), no records.
                r = q[:2] + bytes([0x81, 0x80]) + q[4:6] + b"\0\0\0\0\0\0" + q[12:len(q) - 11]
                if n[0] == 3 and mode == "long":
                    s.sendall(bytes([(len(r) + 5) >> 8, (len(r) + 5) & 255]) + r)
                elif n[0] == 3 and mode == "zero":
                    s.sendall(b"\0\0")
                else:
                    s.sendall(bytes([len(r) >> 8, len(r) & 255]) + r)
        except OSError:
            pass  # surge closed it: what is left is not read
        finally:
            s.close()

    while not stop.is_set():
        try:
            s, _ = lsock.accept()
        except socket.timeout:
            continue
        s.settimeout(None)
        seen["accepted"] += 1
        threading.Thread(target=serve, args=(s,), daemon=True).start()


for mode in ("long", "zero"):
    port, usock, lsock = udp_tcp_pair(16)
    stop, seen = threading.Event(), {"accepted": 0}
    ths = [threading.Thread(target=truncating_server, args=(usock, stop), daemon=True),
           threading.Thread(target=tcp_server, args=(lsock, stop, mode, seen), daemon=True)]
    for th in ths:
        th.start()
    rc, req, errs, c, log = run(scenario(port=port, conns=2, pipeline=32, rate=100, dur="2s",
                                         timeout="300ms", opts='tc = "tcp"'))
    stop.set()
    for th in ths:
        th.join()
    usock.close()
    lsock.close()
    sent, done_n = req.get("sent", 0), req.get("completed", 0)
    tmo, prot = errs.get("request_timeout", 0), errs.get("protocol", 0)
    if mode == "long":
        # 100 q/s and a 300 ms timeout: ~30 on the broken connection (before
        # the fix, every query after the lie timed out).
        ok(sent == 200 and done_n + tmo + prot == sent and prot == 1 and 0 < tmo <= 60 and
           c.get("dns.tc_tcp.request_timeout") == tmo,
           "TCP prefix 5 too long: %s of 200 answered, %s time out (all dns.tc_tcp.request_timeout "
           "%s), the lied answer malformed (%s)" %
           (done_n, tmo, c.get("dns.tc_tcp.request_timeout"), prot), log)
    else:
        ok(sent == 200 and done_n + prot == sent and tmo == 0 and 1 <= prot <= 5 and
           c.get("dns.tc_tcp.malformed") == 1 and c.get("dns.tc_tcp.protocol") == prot,
           "zero-length TCP frame: the connection closes at once, its %s queries protocol errors "
           "(dns.tc_tcp.protocol %s), %s of 200 answered, no timeouts" %
           (prot, c.get("dns.tc_tcp.protocol"), done_n), log)
    ok(seen["accepted"] == 2 and c.get("dns.tc_retried_tcp") == sent,
       "%s: the broken connection closed and one new one opened (server accepted %s)" %
       (mode, seen["accepted"]), log)

# 3b. Bad options stop the run before traffic (exit 2), naming file:line and option.
BAD = """local dns = require "surge.proto.dns"
return {
  target = "udp://127.0.0.1:%d",
  protocol = dns.udp { queries = { "a.test A" }, %s },
  connections = 1, rate = 10, duration = "1s", timeout = "1s",
}
"""
for opts, want in [
        ('retries = -1', ":4: dns.udp: retries must be a whole number of resends from 0 to 255, not -1"),
        ('retries = 1, retry_after = "soon"', ":4: dns.udp: retry_after must be a duration above 0"),
        ('tc = "retry"', ':4: dns.udp: tc must be "count"'),
        ('retries = 3,\n    retry_after = "400ms"',
         ":5: option 'protocol.retry_after': 4 tries of 0.4s do not fit the request timeout of 1s: "
         'set timeout = "1.6s" or a shorter retry_after')]:
    scn = write_scenario(BAD % (port, opts))
    rc, out, err = surge("run", scn, "--no-progress")
    ok(rc == 2 and (scn + want) in err, "%s: exit 2, %s" % (opts.replace("\n", " "), want.strip(":")),
       err)
scn = write_scenario("""return { target = "tcp://127.0.0.1:%d",
  protocol = { name = "p", request = "x", framing = { kind = "fixed", size = 1 }, retries = 2 },
  connections = 1, duration = "1s" }
""" % port)
rc, out, err = surge("run", scn, "--no-progress")
ok(rc == 2 and "option 'protocol.retries': expected nothing with transport = \"tcp\"" in err,
   "retries on a TCP protocol: refused (a stream neither loses nor truncates)", err)

# 4. unbound over UDP (and its TCP on the same port for truncated answers).
UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
if os.path.exists(UNBOUND):
    tmp = tempfile.mkdtemp(prefix="surge-unbound-udp-")
    uport = free_port()
    big = "".join('  local-data: "big.test. 60 IN A 10.1.0.%d"\n' % i for i in range(1, 41))
    with open(os.path.join(tmp, "unbound.conf"), "w") as f:
        f.write("""server:
  interface: 127.0.0.1@%(port)d
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "%(tmp)s"
  pidfile: ""
  use-syslog: no
  logfile: ""
  num-threads: 1
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "test." static
  local-data: "a.test. 60 IN A 10.0.0.1"
  local-data: "b.test. 60 IN A 10.0.0.2"
%(big)sremote-control:
  control-enable: no
""" % dict(port=uport, tmp=tmp, big=big))
    ub = Server([UNBOUND, "-d", "-c", os.path.join(tmp, "unbound.conf")],
                ready_port=("127.0.0.1", uport))
    try:
        rc, req, errs, c, log = run(scenario(port=uport, conns=20, pipeline=4, rate=600, dur="2s",
                                             queries='{ "a.test A", "b.test A", "nx.test A" }'))
        d = req.get("completed", 0)
        ok(rc == 0 and d == req.get("sent") == 1200 and sum(errs.values()) == 0,
           "unbound over UDP: %s of 1200 answered, no errors" % d, log)
        ok(c.get("dns.rcode.NOERROR") == 800 and c.get("dns.rcode.NXDOMAIN") == 400,
           "rcodes match unbound's zone: NOERROR %s, NXDOMAIN %s" %
           (c.get("dns.rcode.NOERROR"), c.get("dns.rcode.NXDOMAIN")), c)
        rc, req, errs, c, log = run(scenario(port=uport, conns=4, pipeline=2, rate=200, dur="1s",
                                             edns="false", opts='tc = "tcp"',
                                             queries='{ "big.test A", "a.test A" }'))
        ok(rc == 0 and req.get("completed") == req.get("sent") == 200 and sum(errs.values()) == 0
           and c.get("dns.tc") == c.get("dns.tc_retried_tcp") == 100 and
           c.get("dns.rcode.NOERROR") == 200,
           "unbound truncates big.test (40 A) at 512 bytes: 100 asked again over TCP, 200 of 200 "
           "answered, rcodes once (tc %s, retried %s, NOERROR %s, completed %s)" %
           (c.get("dns.tc"), c.get("dns.tc_retried_tcp"), c.get("dns.rcode.NOERROR"),
            req.get("completed")), log)
    finally:
        ub.stop()
else:
    ok(True, "unbound not installed: skipped (make deps)", todo="unbound missing")

done()
