#!/usr/bin/env python3
"""dns.udp against small Python servers that answer wrongly on purpose,
each datagram and frame counted by the server and compared with surge's
--json report: over the TC fallback's TCP connection, an answer repeated
(or an ID no query on it carries) is a protocol error, protocol.unmatched,
as it is on a UDP socket or a plain TCP connection (before, only the
counter dns.tc_tcp.unmatched said so, and the errors did not add up); with
retries, an answer whose ID surge never sent is unmatched, not a late
answer to a resent query."""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import done, free_port, ok, recv_exact, run_json, udp_serve, udp_tcp_pair, write_scenario  # noqa: E402

SCENARIO = """local dns = require "surge.proto.dns"
return {
  target = "udp://127.0.0.1:%(port)d",
  protocol = dns.udp { queries = { "a.test A", "b.test AAAA" }, pipeline = 4, %(opts)s },
  connections = 2, workers = 1, rate = %(rate)d, duration = "1s", timeout = "%(timeout)s",
}
"""


def answer(q, tc=False):
    """The answer to q: QR, TC as asked, RD copied, the question echoed
    without the OPT record, no records (RFC 1035 4.1.1)."""
    off = 12
    while q[off]:
        off += q[off] + 1
    return q[:2] + bytes([0x80 | (q[2] & 1) | (2 if tc else 0), 0x80]) + b"\0\1\0\0\0\0\0\0" + \
        q[12:off + 5]


def run(port, rate, opts, timeout="500ms"):
    rc, rep, log = run_json(write_scenario(SCENARIO % dict(port=port, rate=rate, opts=opts,
                                                          timeout=timeout)), "--no-progress")
    rep = rep or {}
    t = rep.get("totals", {})
    return (t.get("requests", {}), t.get("errors", {}).get("by_class", {}),
            rep.get("counters", {}), log)


def tcp_twice(lsock, stop, seen):
    """Answers every framed query twice."""
    lsock.settimeout(0.05)
    while not stop.is_set():
        try:
            s, _ = lsock.accept()
        except socket.timeout:
            continue
        s.settimeout(None)

        def serve(s=s):
            try:
                while True:
                    h = recv_exact(s, 2)
                    q = h and recv_exact(s, h[0] << 8 | h[1])
                    if not q:
                        return
                    r = answer(q)
                    s.sendall((bytes([len(r) >> 8, len(r) & 255]) + r) * 2)
                    seen["queries"] += 1
            except OSError:
                pass
            finally:
                s.close()
        threading.Thread(target=serve, daemon=True).start()


# 1. Every UDP answer truncated; the TCP server answers each query twice.
port, usock, lsock = udp_tcp_pair(8)
stop, seen = threading.Event(), {"queries": 0}
ths = [threading.Thread(target=udp_serve, args=(usock, stop, lambda q: [answer(q, tc=True)]),
                        daemon=True),
       threading.Thread(target=tcp_twice, args=(lsock, stop, seen), daemon=True)]
for th in ths:
    th.start()
req, errs, c, log = run(port, 50, 'tc = "tcp"')
stop.set()
for th in ths:
    th.join()
usock.close()
lsock.close()
n = seen["queries"]
ok(req.get("sent") == 50 == n and req.get("completed") == 50 and c.get("dns.tc_retried_tcp") == 50,
   "50 truncated queries asked again over TCP and answered (server saw %d)" % n, log)
ok(c.get("dns.tc_tcp.unmatched") == 50 and errs.get("protocol") == 50 and
   c.get("protocol.unmatched") == 50,
   "each of the 50 repeated TCP answers is a protocol error, protocol.unmatched (errors %s, "
   "protocol.unmatched %s, dns.tc_tcp.unmatched %s)" %
   (errs.get("protocol"), c.get("protocol.unmatched"), c.get("dns.tc_tcp.unmatched")), log)

# 2. retries = 1: the server ignores each query's first try, answers the
# resend, and sends with it an answer whose ID differs in its top bit (an
# ID surge did not send). No answer to a first try ever comes, so there is
# no late answer: each extra one is protocol.unmatched.
port = free_port(udp=True)
usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
usock.bind(("127.0.0.1", port))
tried, stats = set(), {"ignored": 0, "answered": 0}


def second_try(q):
    if q not in tried:
        tried.add(q)
        stats["ignored"] += 1
        return []
    stats["answered"] += 1
    bogus = bytearray(answer(q))
    bogus[0] ^= 0x80
    return [answer(q), bytes(bogus)]


stop = threading.Event()
th = threading.Thread(target=udp_serve, args=(usock, stop, second_try), daemon=True)
th.start()
req, errs, c, log = run(port, 20, 'retries = 1, retry_after = "200ms"', timeout="1s")
stop.set()
th.join()
usock.close()
a = stats["answered"]
ok(req.get("completed") == a and c.get("dns.retries") == stats["ignored"] == req.get("sent"),
   "every query answered on its resend (%d of %s, dns.retries %s)" %
   (a, req.get("sent"), c.get("dns.retries")), log)
# (the extra answers to the last queries may come after their sockets
# closed: not read, not counted)
ok(c.get("dns.late_answers", 0) == 0 and a - 3 <= c.get("protocol.unmatched", 0) <= a,
   "%d answers with IDs never sent: protocol.unmatched %s, dns.late_answers %s (none came late)"
   % (a, c.get("protocol.unmatched"), c.get("dns.late_answers", 0)), log)
done()
