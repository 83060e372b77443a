#!/usr/bin/env python3
"""HTTP/1.1 benchmark: answers per client CPU-second, surge vs wrk (Debian's
4.1), one after the other against the same nginx (Debian's, 1 worker, access
log off, keepalive_requests 1000 as shipped), same connections and duration,
one client thread/worker, closed model, in --rounds rounds that rotate the
two and a lower bound (tests/bench/epoll_http.c: the least an HTTP/1.1
client can do in that model: epoll, read and write, no timing, no
statistics); one run each is within the host's noise of the goal. Prints the
ratio of the sums (goal >= 1.2), each round's, and the bound's own ratio to
wrk, which says what any client could reach against wrk on this host. Then surge's open model at 70% of
that throughput, its CPU per answer next to the saturated closed model's; and
the issue's comparison, the closed and open models at the same throughput
(one connection closed, the open model at its rate). About 40 s by default.

    tests/bench/bench_http.py [--conns 50] [--secs 4] [--rounds 5] [--path /index.html]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e", "lib"))
from nginx import Nginx  # noqa: E402
from tap import ROOT, SURGE, parse_report  # noqa: E402
sys.path.insert(0, os.path.dirname(__file__))
from benchlib import measure, per_answer  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--conns", type=int, default=50)
ap.add_argument("--secs", type=int, default=4)
ap.add_argument("--path", default="/index.html")
ap.add_argument("--rounds", type=int, default=5)
a = ap.parse_args()
if a.rounds < 1 or a.secs < 1 or (3 * a.rounds + 3) * a.secs > 100:
    sys.exit("--secs and --rounds: 3 x rounds + 3 runs of --secs each, at most 100 s in all")
if not shutil.which("wrk"):
    sys.exit("wrk is not installed (make deps)")
if not Nginx.available():
    sys.exit("nginx is not installed (make deps)")
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
BOUND = os.path.join(BUILD, "bench_epoll_http")
subprocess.run(["cc", "-O2", "-o", BOUND, os.path.join(ROOT, "tests/bench/epoll_http.c")], check=True)


def run_wrk(url):
    out, cpu, calls = measure(["wrk", "-t", "1", "-c", str(a.conns), "-d", "%ds" % a.secs, url],
                              a.secs + 30)
    m = re.search(r"(\d+) requests in", out)
    done = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    return done, cpu, calls, bad, m.group(1) if m else "none"


def run_bound(port):
    out, cpu, calls = measure([BOUND, "127.0.0.1", str(port), a.path, str(a.conns), str(a.secs)],
                              a.secs + 30)
    return int(out.strip() or 0), cpu, calls


def run_surge(url):
    out, cpu, calls = measure([SURGE, "run", url, "-c", str(a.conns), "-d", "%ds" % a.secs, "-w",
                               "1", "--no-progress"], a.secs + 30)
    r = parse_report(out)
    return r.get("completed", 0), cpu, calls, r.get("errors")


with Nginx(access_log=False) as ngx:
    url = "http://127.0.0.1:%d%s" % (ngx.port, a.path)
    # One run of each differs from the next by more than the goal's margin
    # on a shared host (0.94-1.35 x in one morning): rounds rotate the
    # three, and the ratios are of the sums.
    tools = ["wrk", "surge", "bound"]
    done = dict.fromkeys(tools, 0)
    cpu = dict.fromkeys(tools, 0.0)
    calls = dict.fromkeys(tools, 0)
    wrk_errs, rounds = [], []
    wrk_bad = errors = 0
    for i in range(a.rounds):
        rate = {}
        for tool in tools[i % 3:] + tools[:i % 3]:
            if tool == "wrk":
                d, c, k, bad, errs = run_wrk(url)
                wrk_bad += bad
                wrk_errs.append(errs)
            elif tool == "surge":
                d, c, k, e = run_surge(url)
                errors = errors + e if e is not None and errors is not None else None
            else:
                d, c, k = run_bound(ngx.port)
            done[tool] += d
            cpu[tool] += c
            calls[tool] = calls[tool] + k if k is not None and calls[tool] is not None else None
            rate[tool] = d / c
        rounds.append((rate["surge"] / rate["wrk"], rate["bound"] / rate["wrk"]))
    wrk_done, wrk_cpu, wrk_calls = done["wrk"], cpu["wrk"], calls["wrk"]
    surge_done, surge_cpu, surge_calls = done["surge"], cpu["surge"], calls["surge"]

    # Open model at 70% of the closed model's throughput: the same work
    # paced, which should cost no more CPU per answer.
    rate = int(surge_done / a.rounds / a.secs * 0.7)
    out, open_cpu, open_calls = measure([SURGE, "run", url, "-c", str(a.conns), "-d",
                                         "%ds" % a.secs, "-w", "1", "-r", str(rate), "--no-progress"],
                                        a.secs + 30)
    ro = parse_report(out)
    open_done, open_errors = ro.get("completed", 0), ro.get("errors")

    # The issue's own comparison: the closed model at the same throughput as
    # the open one. Without think times the only closed run below nginx's
    # capacity is one connection (two already saturate it here), so: one
    # connection closed, then the open model at that throughput on all the
    # connections. (A think time would make the closed model's connections
    # fall into step and send in bursts, which an open model is there to
    # avoid.)
    out, one_cpu, one_calls = measure([SURGE, "run", url, "-c", "1", "-d", "%ds" % a.secs,
                                       "-w", "1", "--no-progress"], a.secs + 30)
    r1 = parse_report(out)
    one_done = r1.get("completed", 0)
    same = one_done // a.secs
    out, same_cpu, same_calls = measure([SURGE, "run", url, "-c", str(a.conns), "-d",
                                         "%ds" % a.secs, "-w", "1", "-r", str(same),
                                         "--no-progress"], a.secs + 30)
    rs = parse_report(out)
    same_done = rs.get("completed", 0)

wrk_rate, surge_rate = wrk_done / wrk_cpu, surge_done / surge_cpu
open_rate = open_done / open_cpu if open_cpu else 0
print("HTTP/1.1 GET %s against nginx (1 worker): %d connections, %d s each, 1 client thread/worker:"
      % (a.path, a.conns, a.secs))
print("  wrk 4.1:      %9d answers, %5.2f CPU-s -> %8.0f answers per CPU-second, %s "
      "(%d runs; non-2xx/3xx %d, socket errors %s)"
      % (wrk_done, wrk_cpu, wrk_rate, per_answer(wrk_calls, wrk_done), a.rounds, wrk_bad,
         ", ".join(wrk_errs)))
print("  surge closed: %9d answers, %5.2f CPU-s -> %8.0f answers per CPU-second, %s (%d runs; "
      "errors %s)" % (surge_done, surge_cpu, surge_rate, per_answer(surge_calls, surge_done),
                      a.rounds, errors))
print("  surge open:   %9d answers, %5.2f CPU-s -> %8.0f answers per CPU-second, %s at %d/s "
      "(errors %s)" % (open_done, open_cpu, open_rate, per_answer(open_calls, open_done), rate,
                       open_errors))
ratio = surge_rate / wrk_rate if wrk_rate else 0
bound_rate = done["bound"] / cpu["bound"]
print("  lower bound:  %9d answers, %5.2f CPU-s -> %8.0f answers per CPU-second, %s (%d runs)"
      % (done["bound"], cpu["bound"], bound_rate, per_answer(calls["bound"], done["bound"]),
         a.rounds))
print("  ratio surge/wrk (closed): %.2f (goal >= 1.2); round by round: %s"
      % (ratio, " ".join("%.2f" % r[0] for r in rounds)))
print("  the bound/wrk: %.2f (what any client in this model reaches here); round by round: %s;"
      " surge/the bound: %.2f" % (bound_rate / wrk_rate, " ".join("%.2f" % r[1] for r in rounds),
                                  surge_rate / bound_rate))
print("  open at 70%% / closed at saturation, CPU per answer: %.2f"
      % (surge_rate / open_rate if open_rate else 0))


def us(cpu, done):
    return 1e6 * cpu / done if done else 0


print("  at the same throughput: closed, 1 connection: %d answers/s, %.1f us of CPU and %s; "
      "open, %d connections at %d/s: %.1f us and %s (errors %s, %s)"
      % (one_done // a.secs, us(one_cpu, one_done), per_answer(one_calls, one_done), a.conns,
         same, us(same_cpu, same_done), per_answer(same_calls, same_done), r1.get("errors"),
         rs.get("errors")))
print("  open/closed CPU per answer at the same throughput: %.2f (goal <= 1.0)"
      % (us(same_cpu, same_done) / us(one_cpu, one_done) if one_done and same_done else 0))
sys.exit(0 if ratio >= 1.2 and errors == 0 else 1)
