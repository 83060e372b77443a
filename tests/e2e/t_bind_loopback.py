#!/usr/bin/env python3
"""Source addresses on loopback (all of 127.0.0.0/8 is local): 16 sources,
checked in the kernel's socket table (ss) — every connection's source address
and port inside the requested sets, the spread even, each worker in its own
port slice; permutation never repeats an (address, port); the explicit-port
fallback; ports taken by others counted as 'address not available'; and the
plan's refusals before any traffic."""
import collections
import ipaddress
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, Serve, diag, done, ok, parse_report, surge, write_scenario  # noqa: E402

# Blocks no other test uses, nor anything as a destination: a connection to
# 127.0.0.1 takes 127.0.0.1 as its source, and its kernel-chosen port (and
# TIME_WAIT after it) would block a named port there for a minute.
SOURCES = ["127.0.2.%d" % i for i in range(1, 17)]
PERM_SOURCES = ["127.0.3.%d" % i for i in range(1, 17)]
PLO, PHI = 40000, 40999
CONNS = 320


def sys_ports():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = map(int, f.read().split())
    return lo, hi


def parent_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def established(port, coordinator):
    """[(src, sport, pid)] of client sockets connected to 127.0.0.1:port; pid
    is the worker (a child of `coordinator`) among the processes ss shows
    holding the socket, None when ss showed none. Under ASan a worker's exit-time leak check runs in a
    task that shares its descriptors, so ss may list that task too (CI
    once split a worker's connections between two pids)."""
    out = subprocess.run(["ss", "-Htanp", "state", "established", "( dport = :%d )" % port],
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        src, sport = parts[2].rsplit(":", 1)
        pids = [int(x) for x in re.findall(r"pid=(\d+)", line)]
        workers = [x for x in pids if parent_of(x) == coordinator]
        rows.append((src.strip("[]"), int(sport), workers[0] if workers else None))
    return rows


def run_and_sample(scn, want, *args, env=None):
    """Starts surge, samples the socket table once `want` connections are up,
    and returns (rc, stdout, stderr, rows)."""
    p = subprocess.Popen([SURGE, "run", scn, "--no-progress"] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    rows, end = [], time.time() + 15
    while time.time() < end and p.poll() is None:
        rows = established(port, p.pid)
        # Every socket seen held by a worker: ss reads each process's fds
        # as it goes, and CI once listed a third of them with no holder
        # (grouped apart, they looked like a third worker across both port
        # halves). The next sample finds them.
        if len(rows) >= want and all(pid for _, _, pid in rows):
            break
        time.sleep(0.1)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return p.returncode, out, err, rows


lo, hi = sys_ports()
if not (lo <= PLO and PHI <= hi):
    # --ports must lie inside the system range (the kernel clamps to it)
    PLO, PHI = lo, lo + 999
diag("system port range %d-%d; test ports %d-%d" % (lo, hi, PLO, PHI))

srv = Serve("echo", workers=1)
port = srv.port

SET, PERM_SET = SOURCES[0] + "-" + SOURCES[-1], PERM_SOURCES[0] + "-" + PERM_SOURCES[-1]
SCN = """
local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%d",
  protocol = echo.new { size = 16 },
  connections = %d,
  think = "500ms",
  duration = "3s",
  workers = 2,
  bind = { "%s", pick = "%s", ports = "%d-%d" },
}
"""

# --- round-robin: even, in the sets, each worker in its own slice
scn = write_scenario(SCN % (port, CONNS, SET, "round-robin", PLO, PHI))
rc, out, err, rows = run_and_sample(scn, CONNS)
r = parse_report(out)
ok(rc == 0, "round-robin run exits 0", err)
ok(len(rows) == CONNS, "ss sees all %d connections established (%d)" % (CONNS, len(rows)))
ok(all(s in SOURCES for s, _, _ in rows), "every source address is one of the 16",
   [s for s, _, _ in rows if s not in SOURCES][:5])
ok(all(PLO <= p <= PHI for _, p, _ in rows), "every source port is in %d-%d" % (PLO, PHI),
   [p for _, p, _ in rows if not PLO <= p <= PHI][:5])
per_src = collections.Counter(s for s, _, _ in rows)
ok(len(per_src) == 16 and max(per_src.values()) - min(per_src.values()) <= 0,
   "round-robin spreads evenly: 20 per source (%s)" % sorted(set(per_src.values())), per_src)
by_pid = collections.defaultdict(list)
for _, p, pid in rows:
    by_pid[pid].append(p)
ranges = sorted((min(v), max(v)) for v in by_pid.values())
ok(len(ranges) == 2 and ranges[0][1] < ranges[1][0] and ranges[0][1] <= PLO + 499 and
   ranges[1][0] >= PLO + 500,
   "each of the 2 workers stays in its own half of the ports (%s)" % ranges)
src_rows = re.findall(r"^\s+(127\.0\.2\.\d+)\s+(\d+)\s+(\d+)$", out, re.M)
ok(len(src_rows) == 16 and all(int(c) == 20 for _, c, _ in src_rows),
   "the report lists 16 sources with 20 connections each", out)
ok(sum(int(q) for _, _, q in src_rows) == r.get("completed"),
   "per-source completed requests add up to the total (%s)" % r.get("completed"), out)

# --- permutation: no (address, port) twice, all in the sets
scn = write_scenario(SCN % (port, CONNS, PERM_SET, "permutation", PLO, PLO + 99))
rc, out, err, rows = run_and_sample(scn, CONNS)
pairs = [(s, p) for s, p, _ in rows]
ok(rc == 0 and len(rows) == CONNS, "permutation run: %d established (%d)" % (CONNS, len(rows)), err)
ok(len(set(pairs)) == len(pairs), "permutation: no (address, port) pair repeats")
ok(all(s in PERM_SOURCES and PLO <= p <= PLO + 99 for s, p in pairs), "permutation: inside the sets")
ok(len({s for s, _ in pairs}) == 16, "permutation: all 16 sources used",
   "%s\n%s" % (sorted(collections.Counter(s for s, _ in pairs).items()), out))

# --- random: reproducible sets, inside the sets
scn = write_scenario(SCN % (port, CONNS, SET, "random", PLO, PHI))
rc, out, err, rows = run_and_sample(scn, CONNS)
ok(rc == 0 and len(rows) == CONNS and all(s in SOURCES for s, _, _ in rows),
   "random: all connections from the set (%d)" % len(rows), err)

# --- ports without bind: the kernel's source, each worker's slice of the ports
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new {}, connections = 64, workers = 2,
         think = "500ms", duration = "2s", ports = "%d-%d" }
""" % (port, PLO, PHI))
rc, out, err, rows = run_and_sample(scn, 64)
ok(rc == 0 and len(rows) == 64 and all(PLO <= p <= PHI for _, p, _ in rows),
   "--ports alone: 64 connections, every port in %d-%d (%d)" % (PLO, PHI, len(rows)), err)

# --- the fallback for kernels without IP_LOCAL_PORT_RANGE: named ports
env = dict(os.environ, SURGE_NO_PORT_RANGE="1")
scn = write_scenario(SCN % (port, 64, SET, "round-robin", PLO, PHI))
rc, out, err, rows = run_and_sample(scn, 64, env=env)
ok(rc == 0 and "no per-socket port range" in err, "fallback: a notice says ports are named", err)
ok(len(rows) == 64 and all(PLO <= p <= PHI for _, p, _ in rows),
   "fallback: named ports stay in %d-%d (%d connections)" % (PLO, PHI, len(rows)))

# --- ports held by someone else: the run counts 'address not available'
held = []
for p in range(PHI - 9, PHI + 1):
    s = socket.socket()
    s.bind(("127.0.0.77", p))
    held.append(s)
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new {}, connections = 4, workers = 1,
         duration = "1s", bind = "127.0.0.77", ports = "%d-%d" }
""" % (port, PHI - 9, PHI))
rc, out, err = surge("run", scn, "--no-progress")
r = parse_report(out)
ok(r.get("error_classes", {}).get("address not available", 0) > 0 and r.get("opened") == 0,
   "connects that find no free port are counted as 'address not available' (%s)"
   % r.get("error_classes"), out + err)
for s in held:
    s.close()

# --- 4-tuples already in use (another program's connections, or an earlier
# run's TIME_WAIT where tcp_tw_reuse does not reach): bind() with SO_REUSEADDR
# succeeds, connect() fails at once; the permutation skips to the next pair.
held = []
for p in range(PLO, PLO + 5):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.6.1", p))
    s.connect(("127.0.0.1", port))
    held.append(s)
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new {}, connections = 5, workers = 1,
         duration = "1s", bind = { "127.0.6.1", pick = "permutation", ports = "%d-%d" } }
""" % (port, PLO, PLO + 9))
rc, out, err = surge("run", scn, "--no-progress")
r = parse_report(out)
busy = re.search(r"source\.tuple_busy (\d+)", out)
ok(rc == 0 and r.get("opened") == 5 and r.get("errors") == 0,
   "5 of 10 tuples taken: all 5 connections open, no error (%s)" % r.get("error_classes"), out + err)
ok(busy and 1 <= int(busy.group(1)) <= 5, "the taken tuples it met are counted as skipped", out)
for s in held:
    s.close()

# --- refusals before any traffic (exit 4), with the arithmetic and the fix
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new {}, connections = 1, duration = "1s" }
""" % port)
rc, out, err = surge("run", scn, "-c", "70000", "--bind", "127.0.0.1", "--no-progress")
ok(rc == 4 and re.search(r"70000 connections to 1 destination need ≥ \d+ source addresses with "
                         r"\d+ ports each", err) and "add at least" in err,
   "too few sources for 70000: refused with the arithmetic (exit %d)" % rc, err)
rc, out, err = surge("run", scn, "-c", "70000", "--no-progress")
ok(rc == 4 and "add e.g. --bind 127.0.0.1-127.0.0." in err, "without --bind: a --bind that fits", err)
rc, out, err = surge("run", scn, "--bind", "127.0.0.1,203.0.113.9", "--no-progress")
ok(rc == 4 and "not configured on this machine: 203.0.113.9" in err and
   "fix: ip addr add 203.0.113.9/32 dev " in err, "a missing bind address: listed, with ip addr add",
   err)
# A block of IPv6 ones: the local route alone does not let Linux bind them;
# the hint says what does (the benchmarking range, configured nowhere here).
rc, out, err = surge("doctor", "--target", "tcp://[::1]:7000", "-c", "100",
                     "--bind", "2001:2::1-2001:2::20")
ok("`ip -6 route add local 2001:db8::/64 dev lo` and `sysctl -w net.ipv6.ip_nonlocal_bind=1`"
   in out + err and "ip route add local 10.0.1.0/24" not in out + err,
   "missing IPv6 sources: the block hint is IPv6's, with ip_nonlocal_bind", out + err)
# A link-local source is configured (or not) and still not bindable without
# a scope: bind() says EINVAL, and every connect would fail. Refused before
# traffic like a missing address (before, the plan let it run); the scoped
# form is a bad --bind that says why.
if socket.has_ipv6:
    rc, out, err = surge("run", scn, "--target", "tcp://[::1]:%d" % port, "--bind", "fe80::1",
                         "--no-progress")
    ok(rc == 4 and "1 of 1 bind address checked cannot be bound here: fe80::1 (link-local:" in err
       and "surge does not support link-local sources" in err,
       "a link-local source: refused before traffic, saying why (exit %d)" % rc, err)
    rc, out, err = surge("doctor", "--bind", "fe80::1")
    ok(rc == 4 and "FAIL" in out and "cannot be bound here: fe80::1 (link-local:" in out,
       "doctor: a link-local source cannot be bound (exit %d)" % rc, out + err)
    rc, out, err = surge("run", scn, "--bind", "fe80::1%lo", "--no-progress")
    ok(rc == 2 and "'fe80::1%lo': link-local sources (an address with a %scope) are not supported"
       in err, "a scoped source: a bad --bind, saying link-local sources are not supported", err)
rc, out, err = surge("run", scn, "--bind", "127.0.0.9/24", "--no-progress")
ok(rc == 2 and "command line: option 'bind': '127.0.0.9/24' has host bits set; did you mean "
   "127.0.0.0/24?" in err, "a bad --bind names the command line and the fix", err)
bad = write_scenario("""
local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%d", protocol = echo.new {},
  bind = { "127.0.0.1", "10.0.0.300" },
}
""" % port)
rc, out, err = surge("run", bad, "--no-progress")
ok(rc == 2 and ":5: option 'bind': '10.0.0.300' is not an address" in err,
   "a bad bind in a scenario names file:line", err)
rc, out, err = surge("run", scn, "--ports", "%d-%d" % (max(1, lo - 10), lo + 10), "--no-progress")
ok(rc == 4 and "not inside net.ipv4.ip_local_port_range" in err and "sysctl -w" in err,
   "--ports outside the system range: refused with the sysctl", err)

# --- doctor
rc, out, err = surge("doctor", scn, "-c", "70000")
ok(rc == 4 and "FAIL" in out and "cannot run here" in out, "doctor: 70000 from one source cannot run", out)
rc, out, err = surge("doctor", scn, "-c", "70000", "--bind", "127.0.0.1-127.0.0.8")
ok(rc == 0 and "can run here" in out and "ip_local_port_range" in out and "tcp_tw_reuse" in out
   and "somaxconn" in out and "open files" in out, "doctor: with 8 sources it can run", out)
rc, out, err = surge("doctor")
table = re.findall(r"^\s+(50000|100000|500000|1000000)\s+(\d+)", out, re.M)
ok(rc == 0 and table == [("50000", "1"), ("100000", "2"), ("500000", "8"), ("1000000", "16")],
   "doctor: sources needed at 1024-65535: 50k 1, 100k 2, 500k 8, 1M 16 (%s)" % table, out)

srv.stop()
done()
