#!/usr/bin/env python3
"""DNS over TCP benchmark: queries per client CPU-second, surge vs dnsperf -m tcp
(Debian's), one after the other against the same server, with the same query
file, connections and queries outstanding; prints the ratio (goal >= 1.5).
Server: `surge serve dns` (default) or knotd (--knot). About 20 s in all.

    tests/bench/bench_dns.py [--knot] [--conns 100] [--outstanding 800] [--secs 8]
"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e", "lib"))
from tap import ROOT, SURGE, Serve, parse_report, write_scenario  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--knot", action="store_true", help="knotd as the server instead of surge serve dns")
ap.add_argument("--conns", type=int, default=100)
ap.add_argument("--outstanding", type=int, default=800, help="queries in flight in total")
ap.add_argument("--secs", type=int, default=8)
a = ap.parse_args()
if a.secs > 25:
    sys.exit("--secs: at most 25 (the whole benchmark stays within 60 s)")
if a.outstanding % a.conns:
    sys.exit("--outstanding must be a multiple of --conns (surge's pipeline is per connection)")
if not shutil.which("dnsperf"):
    sys.exit("dnsperf is not installed (make deps)")

QUERIES = os.path.join(ROOT, "scenarios", "data", "queries.txt")  # dnsperf reads it as is


def cpu_of(argv):
    """Runs argv; returns (stdout, CPU seconds of it and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=a.secs + 20)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s" % (argv[0], p.returncode, p.stderr[-2000:]))
    return p.stdout, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


if a.knot:
    from knot import Knot  # noqa: E402
    names = set()
    with open(QUERIES) as f:
        for line in f:
            w = line.split()
            if len(w) == 2 and not w[0].startswith((";", "#")) and w[0].endswith("example.com"):
                names.add(w[0][: -len("example.com")].rstrip(".") or "@")
    records = "".join("%s A 198.18.0.1\n%s AAAA 2001:2::1\n" % (n, n) for n in sorted(names))
    server = Knot("example.com", records, workers=1)
    port, what = server.port, "knotd (1 TCP worker)"
else:
    server = Serve("dns", workers=1)
    port, what = server.port, "surge serve dns (1 worker)"

try:
    out, dp_cpu = cpu_of(["dnsperf", "-m", "tcp", "-s", "127.0.0.1", "-p", str(port), "-d", QUERIES,
                          "-c", str(a.conns), "-q", str(a.outstanding), "-T", "1", "-l", str(a.secs)])
    m = re.search(r"Queries completed:\s+(\d+)", out)
    dp_done = int(m.group(1)) if m else 0
    scn = write_scenario("""
local dns = require "surge.proto.dns"
return { target = "tcp://127.0.0.1:%d",
         protocol = dns.tcp { queries = "%s", pipeline = %d, edns = false },
         connections = %d, duration = "%ds", connect_rate = 1000 }
""" % (port, QUERIES, a.outstanding // a.conns, a.conns, a.secs))
    out, surge_cpu = cpu_of([SURGE, "run", scn, "-w", "1", "--no-progress"])
    r = parse_report(out)
    surge_done = r.get("completed", 0)
    errors = r.get("errors")
finally:
    server.stop()

dp_rate, surge_rate = dp_done / dp_cpu, surge_done / surge_cpu
print("DNS over TCP against %s: %d connections, %d queries outstanding, %d s each, 1 client thread/worker:"
      % (what, a.conns, a.outstanding, a.secs))
print("  dnsperf -m tcp: %9d answers, %5.2f CPU-s -> %8.0f answers per CPU-second" % (dp_done, dp_cpu, dp_rate))
print("  surge:          %9d answers, %5.2f CPU-s -> %8.0f answers per CPU-second (errors %s)"
      % (surge_done, surge_cpu, surge_rate, errors))
ratio = surge_rate / dp_rate if dp_rate else 0
print("  ratio surge/dnsperf: %.2f (goal >= 1.5)" % ratio)
sys.exit(0 if ratio >= 1.5 and errors == 0 else 1)
