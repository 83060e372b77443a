#!/usr/bin/env python3
"""Echo benchmark: requests per client CPU-second, surge vs a minimal C epoll
client (the lower bound), same server, same connections, same run; and
surge's own resident memory per idle connection at 20000 connections."""
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from benchlib import workers_rss_kib  # noqa: E402
from tap import ROOT, SURGE, Serve, parse_report, write_scenario  # noqa: E402

CONNS, SECS = 100, 5
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
client = os.path.join(BUILD, "bench_epoll_echo")
subprocess.run(["cc", "-O2", "-o", client, os.path.join(ROOT, "tests/bench/epoll_echo.c")], check=True)


def cpu_of(argv):
    """Runs argv; returns (stdout, CPU seconds of it and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


srv = Serve("echo", workers=1)
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64 },
         connections = %d, duration = "%ds" }
""" % (srv.port, CONNS, SECS))
out, low_cpu = cpu_of([client, "127.0.0.1", str(srv.port), str(CONNS), str(SECS)])
low = int(out.strip())
out, surge_cpu = cpu_of([SURGE, "run", scn, "-w", "1"])
srv.stop()
done = parse_report(out)["completed"]
low_rate, surge_rate = low / low_cpu, done / surge_cpu
print("echo, %d connections, %d s, 64-byte requests, 1 in flight each, 1 client worker:" % (CONNS, SECS))
print("  epoll lower bound: %9d answers, %.2f CPU-s -> %8.0f answers per CPU-second" % (low, low_cpu, low_rate))
print("  surge:             %9d answers, %.2f CPU-s -> %8.0f answers per CPU-second" % (done, surge_cpu, surge_rate))
print("  ratio surge/lower bound: %.2f (goal >= 0.8)" % (surge_rate / low_rate))

# Memory: resident set of surge's workers with 20000 idle connections vs 10.




def idle_rss(conns, port):
    scn_idle = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64 },
         connections = %d, think = "60s", duration = "12s", connect_rate = 50000 }
""" % (port, conns))
    p = subprocess.Popen([SURGE, "run", scn_idle, "-w", "2", "-q"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(8)
    rss = workers_rss_kib(p.pid)
    p.terminate()
    p.wait()
    return rss


srv = Serve("echo", workers=2)
base = idle_rss(10, srv.port)
full = idle_rss(20000, srv.port)
srv.stop()
per = (full - base) * 1024.0 / (20000 - 10)
print("memory: workers' RSS %d KiB at 10 connections, %d KiB at 20000 -> %.0f bytes per idle "
      "connection (goal <= 1024)" % (base, full, per))
