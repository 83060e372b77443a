#!/usr/bin/env python3
"""DNS over UDP benchmark: surge (connected sockets, dns.udp) vs dnsperf -m udp
(Debian's: unconnected sockets, sendto) at the same rate (-Q) against the same
server, `surge serve dns` started afresh for each client so its report counts
the answers it sent to that client alone. For each case it prints answers
per client CPU-second (user + sys of the client's whole process tree, from
getrusage of waited children), the ratio (goal >= 1.5) and syscalls per answer
(perf stat's raw_syscalls:sys_enter over the client's processes, when perf is
installed: /proc/PID/io's syscr + syscw do not count socket calls).

    tests/bench/bench_udp.py [--cases 10:100000,10:50000,5000:20000] [--secs 4]

A case is SOCKETS:RATE; dnsperf gets -c SOCKETS -T ceil(SOCKETS/256) (it opens
at most 256 sockets per thread) and -Q RATE. The default, ~35 s, is issue 14's
two cases (10 x 100k, 5000 x 20k) and 10 x 50k between them (where a wake-up
batches fewest requests: the hardest case for the client's CPU).
"""
import argparse
import math
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from tap import ROOT, SURGE, Serve, write_scenario  # noqa: E402
from benchlib import measure  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--cases", default="10:100000,10:50000,5000:20000", help="SOCKETS:RATE,...")
ap.add_argument("--secs", type=int, default=4)
a = ap.parse_args()
if a.secs > 25:
    sys.exit("--secs: at most 25")
if not shutil.which("dnsperf"):
    sys.exit("dnsperf is not installed (make deps)")
QUERIES = os.path.join(ROOT, "scenarios", "data", "queries.txt")


def one(client, socks, rate):
    srv = Serve("dns", workers=1)
    try:
        if client == "dnsperf":
            threads = max(1, math.ceil(socks / 256))
            out, cpu, sc = measure(["dnsperf", "-m", "udp", "-s", "127.0.0.1", "-p", str(srv.port),
                                    "-d", QUERIES, "-c", str(socks), "-T", str(threads),
                                    "-Q", str(rate), "-q", str(max(100, min(socks * 16, 10000))),
                                    "-l", str(a.secs)], a.secs + 30)
            m = re.search(r"Queries completed:\s+(\d+)", out)
            done = int(m.group(1)) if m else 0
        else:
            pipeline = max(4, min(64, math.ceil(rate * 0.002 / socks) * 4))
            scn = write_scenario("""
local dns = require "surge.proto.dns"
return { target = "udp://127.0.0.1:%d",
         protocol = dns.udp { queries = "%s", pipeline = %d, edns = false },
         connections = %d, rate = %d, duration = "%ds", timeout = "2s" }
""" % (srv.port, QUERIES, pipeline, socks, rate, a.secs))
            out, cpu, sc = measure([SURGE, "run", scn, "-w", "1", "--no-progress"], a.secs + 30)
            m = re.search(r"completed (\d+)", out)
            done = int(m.group(1)) if m else 0
    finally:
        seen = srv.stop()
    sent = seen.get("replies", 0) - seen.get("dropped", 0)
    return done, sent, cpu, sc


ok_all = True
for case in a.cases.split(","):
    socks, rate = (int(x) for x in case.split(":"))
    print("DNS over UDP, %d sockets, %d queries/s for %d s, against surge serve dns (1 worker):"
          % (socks, rate, a.secs))
    res = {}
    for client in ("dnsperf", "surge"):
        done, sent, cpu, sc = one(client, socks, rate)
        res[client] = (sent / cpu if cpu else 0)
        print("  %-8s %8d answers (server sent %8d), %5.2f CPU-s -> %8.0f answers/CPU-s, "
              "%s syscalls/answer" % (client, done, sent, cpu, res[client],
                                      "%.2f" % (sc / sent) if sc and sent else "?"))
    ratio = res["surge"] / res["dnsperf"] if res["dnsperf"] else 0
    print("  ratio surge/dnsperf: %.2f (goal >= 1.5)" % ratio)
    ok_all = ok_all and ratio >= 1.5
sys.exit(0 if ok_all else 1)
