#!/usr/bin/env python3
"""Open model (fixed rate) benchmark: DNS over TCP at the same offered rate
and connections, surge vs `dnsperf -m tcp -Q RATE`, one after the other
against the same `surge serve dns -w 1`, in three shapes. For each tool it
prints the answers the server sent (its own report), the answers per client
CPU-second (user + sys of the whole process tree) and the system calls per
answer (perf's raw_syscalls:sys_enter over the process tree, when perf can
count it). Goal: surge >= 1.5x dnsperf's answers per CPU-second in every shape.

Then echo in the open model against the bare epoll client given the same
schedule (tests/bench/epoll_echo.c --rate): goal >= 0.8x its answers per CPU-s.

    tests/bench/bench_open.py [--secs 6] [--shape 5x100000 ...] [--no-echo]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from tap import ROOT, SURGE, Serve, write_scenario  # noqa: E402
from benchlib import measure, per_answer  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--secs", type=int, default=6)
ap.add_argument("--shape", action="append", help="CONNSxRATE, e.g. 200x60000 (repeatable)")
ap.add_argument("--workers", type=int, default=0, help="surge -w (default: surge's own default)")
ap.add_argument("--no-echo", action="store_true")
a = ap.parse_args()
if a.secs > 20:
    sys.exit("--secs: at most 20")
if not shutil.which("dnsperf"):
    sys.exit("dnsperf is not installed (make deps)")
shapes = [tuple(int(x) for x in s.split("x")) for s in (a.shape or ["5x100000", "200x60000", "2000x20000"])]
QUERIES = os.path.join(ROOT, "scenarios", "data", "queries.txt")
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))


def serve_answers(srv):
    # The server's live count is only in its final report, so each tool gets a server of its own.
    rep = srv.stop()
    return int(rep.get("replies", 0))


def row(name, answers, cpu, calls):
    per = answers / cpu if cpu else 0
    sc = per_answer(calls, answers)
    print("  %-22s %9d answers, %5.2f CPU-s -> %8.0f answers per CPU-second, %s"
          % (name, answers, cpu, per, sc))
    return per


def surge_workers_arg():
    return ["-w", str(a.workers)] if a.workers else []


failed = False
for conns, rate in shapes:
    pipeline = max(4, min(64, 4 * rate // (conns * 1000) + 4))
    print("DNS over TCP, open model: %d connections x %d q/s, %d s, against surge serve dns -w 1:"
          % (conns, rate, a.secs))
    srv = Serve("dns", workers=1)
    out, dp_cpu, dp_calls = measure(
        ["dnsperf", "-m", "tcp", "-s", "127.0.0.1", "-p", str(srv.port), "-d", QUERIES,
         "-c", str(conns), "-Q", str(rate), "-q", str(max(100, conns * pipeline)), "-l", str(a.secs)],
        a.secs + 30)
    dp_srv = serve_answers(srv)
    m = re.search(r"Queries completed:\s+(\d+)", out)
    dp_done = int(m.group(1)) if m else 0

    srv = Serve("dns", workers=1)
    scn = write_scenario("""
local dns = require "surge.proto.dns"
return { target = "tcp://127.0.0.1:%d",
         protocol = dns.tcp { queries = "%s", pipeline = %d, edns = false },
         connections = %d, rate = %d, duration = "%ds", connect_rate = 20000 }
""" % (srv.port, QUERIES, pipeline, conns, rate, a.secs))
    out, s_cpu, s_calls = measure([SURGE, "run", scn, "--no-progress", "--json", "-"] + surge_workers_arg(),
                                  a.secs + 30)
    s_srv = serve_answers(srv)
    rep = json.loads(out)
    tot = rep["totals"]
    s_done, s_err = tot["requests"]["completed"], tot["errors"]["total"]

    dp = row("dnsperf -m tcp -Q:", dp_srv or dp_done, dp_cpu, dp_calls)
    print("    (dnsperf counted %d completed)" % dp_done)
    su = row("surge:", s_srv or s_done, s_cpu, s_calls)
    print("    (surge: %s, %d errors)" % (", ".join("%s %d" % kv for kv in tot["requests"].items()), s_err))
    ratio = su / dp if dp else 0
    print("  ratio surge/dnsperf: %.2f (goal >= 1.5)" % ratio)
    if ratio < 1.5 or s_err:
        failed = True

if not a.no_echo:
    client = os.path.join(BUILD, "bench_epoll_echo")
    subprocess.run(["cc", "-O2", "-o", client, os.path.join(ROOT, "tests/bench/epoll_echo.c")], check=True)
    conns, rate = 100, 50000
    print("echo, open model: %d connections x %d req/s, %d s, 64-byte requests, 1 client worker:"
          % (conns, rate, a.secs))
    srv = Serve("echo", workers=1)
    out, low_cpu, low_calls = measure([client, "127.0.0.1", str(srv.port), str(conns), str(a.secs),
                                       str(rate)], a.secs + 30)
    srv.stop()
    low = int(out.strip())
    srv = Serve("echo", workers=1)
    scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64 },
         connections = %d, rate = %d, duration = "%ds", pipeline = 16 }
""" % (srv.port, conns, rate, a.secs))
    out, s_cpu, s_calls = measure([SURGE, "run", scn, "-w", "1", "--no-progress", "--json", "-"],
                                  a.secs + 30)
    srv.stop()
    rep = json.loads(out)
    lo = row("epoll lower bound:", low, low_cpu, low_calls)
    su = row("surge:", rep["totals"]["requests"]["completed"], s_cpu, s_calls)
    ratio = su / lo if lo else 0
    print("  ratio surge/lower bound: %.2f (goal >= 0.8)" % ratio)
    if ratio < 0.8:
        failed = True

sys.exit(1 if failed else 0)
