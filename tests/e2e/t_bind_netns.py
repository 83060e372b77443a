#!/usr/bin/env python3
"""Source addresses across a real link: two network namespaces joined by a
veth pair (198.18.0.0/24, 2001:2::/64). IPv6 sources from a range, mixed
IPv4 + IPv6 sources to two targets, each connection taking a source of its
destination's family; a missing address refused before any traffic with the
documented message and `ip addr add` fix; doctor agrees."""
import collections
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, Server, diag, done, ok, skip_all, write_scenario  # noqa: E402

tag = "%d" % (os.getpid() % 100000)
C, S = "surge-c" + tag, "surge-s" + tag
VC, VS = "svc" + tag, "svs" + tag
V6_SOURCES = ["2001:2::%x" % i for i in range(0x10, 0x20)]
V4_SOURCES = ["198.18.0.%d" % i for i in range(10, 14)]


def sh(*argv, ns=None, check=True):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
    p = subprocess.run(full, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(full), p.stderr.strip()))
    return p


def setup():
    sh("ip", "netns", "add", C)
    sh("ip", "netns", "add", S)
    sh("ip", "link", "add", VC, "type", "veth", "peer", "name", VS)
    sh("ip", "link", "set", VC, "netns", C)
    sh("ip", "link", "set", VS, "netns", S)
    for ns, dev, v4, v6 in ((C, VC, "198.18.0.1", "2001:2::1"), (S, VS, "198.18.0.2", "2001:2::2")):
        sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "link", "set", dev, "up", ns=ns)
        sh("ip", "addr", "add", v4 + "/24", "dev", dev, ns=ns)
        sh("ip", "-6", "addr", "add", v6 + "/64", "dev", dev, "nodad", ns=ns)
    for a in V4_SOURCES:
        sh("ip", "addr", "add", a + "/24", "dev", VC, ns=C)
    for a in V6_SOURCES:
        sh("ip", "-6", "addr", "add", a + "/64", "dev", VC, "nodad", ns=C)


def teardown():
    for ns in (C, S):
        sh("ip", "netns", "del", ns, check=False)


def run(scn, *args):
    p = subprocess.run(["ip", "netns", "exec", C, SURGE, "run", scn, "--no-progress"] + list(args),
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def src_rows(out):
    return {a: int(c) for a, c in re.findall(r"^\s+([0-9a-f:.]+)\s+(\d+)\s+\d+$", out, re.M)
            if ("." in a or ":" in a)}


try:
    setup()
except (RuntimeError, FileNotFoundError) as e:
    teardown()
    skip_all("cannot create network namespaces here: %s" % e)

srv = None
try:
    d = os.path.join(os.path.dirname(write_scenario("")), "ready")
    srv = Server(["ip", "netns", "exec", S, SURGE, "serve", "echo", "--listen", "[::]:0", "-w", "1",
                  "--ready-file", d, "--exit-after", "120s"], ready_file=d)
    port = int(open(d).read().strip())
    diag("server in %s on [::]:%d" % (S, port))

    # --- IPv6 sources from a range
    scn = write_scenario("""
local echo = require "surge.proto.echo"
return {
  target = "tcp://[2001:2::2]:%d",
  protocol = echo.new { size = 16 },
  connections = 64,
  think = "200ms",
  duration = "2s",
  bind = { "2001:2::10-2001:2::1f" },
}
""" % port)
    p = subprocess.Popen(["ip", "netns", "exec", C, SURGE, "run", scn, "--no-progress"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import time
    rows, end = [], time.time() + 10
    while time.time() < end and p.poll() is None:
        out = sh("ss", "-Htan", "state", "established", "( dport = :%d )" % port, ns=C).stdout
        rows = [line.split()[2].rsplit(":", 1)[0].strip("[]") for line in out.splitlines()]
        if len(rows) >= 64:
            break
        time.sleep(0.1)
    out, err = p.communicate(timeout=60)
    ok(p.returncode == 0, "IPv6 run across the veth exits 0", err)
    ok(len(rows) == 64 and set(rows) == set(V6_SOURCES),
       "ss in the client namespace: 64 connections from exactly the 16 IPv6 sources (%d, %d)"
       % (len(rows), len(set(rows))), collections.Counter(rows))
    ok(set(collections.Counter(rows).values()) == {4}, "4 connections per source",
       collections.Counter(rows))
    per = src_rows(out)
    ok(len(per) == 16 and set(per.values()) == {4}, "the report shows 16 IPv6 sources x 4", out)

    # --- mixed families, two targets
    scn = write_scenario("""
local echo = require "surge.proto.echo"
return {
  target = { "tcp://198.18.0.2:%d", "tcp://[2001:2::2]:%d" },
  protocol = echo.new { size = 16 },
  connections = 64,
  duration = "1s",
  bind = { "198.18.0.10-198.18.0.13", "2001:2::10-2001:2::1f", pick = "random" },
}
""" % (port, port))
    rc, out, err = run(scn)
    per = src_rows(out)
    v4 = sum(c for a, c in per.items() if a in V4_SOURCES)
    v6 = sum(c for a, c in per.items() if a in V6_SOURCES)
    ok(rc == 0 and v4 == 32 and v6 == 32,
       "mixed: 32 connections to the IPv4 target from IPv4 sources, 32 IPv6 (%d, %d)" % (v4, v6),
       out + err)
    ok(set(per) == set(V4_SOURCES) | set(V6_SOURCES), "the report lists all 20 sources", out)

    # --- a missing address: refused before any traffic, with the fix
    scn = write_scenario("""
local echo = require "surge.proto.echo"
return {
  target = "tcp://[2001:2::2]:%d",
  protocol = echo.new {},
  connections = 10,
  duration = "1s",
  bind = { "2001:2::10-2001:2::20", "198.18.0.99" },
}
""" % port)
    rc, out, err = run(scn)
    ok(rc == 4, "missing source addresses: exit 4 (the plan does not fit)", err)
    ok("2 of 18 bind addresses checked are not configured on this machine: 198.18.0.99 2001:2::20"
       in err, "the message lists the missing addresses", err)
    ok("fix: ip addr add 198.18.0.99/32 dev %s" % VC in err and
       "fix: ip -6 addr add 2001:2::20/128 dev %s nodad" % VC in err,
       "and the ip addr add commands, on the interface of their network", err)
    ok("requests" not in out, "no traffic was sent", out)
    p = sh(SURGE, "doctor", scn, ns=C, check=False)
    ok(p.returncode == 4 and "2001:2::20" in p.stdout and "cannot run here" in p.stdout,
       "doctor reports the same and exits 4", p.stdout)
    sh("ip", "-6", "addr", "add", "2001:2::20/64", "dev", VC, "nodad", ns=C)
    sh("ip", "addr", "add", "198.18.0.99/24", "dev", VC, ns=C)
    p = sh(SURGE, "doctor", scn, ns=C, check=False)
    ok(p.returncode == 0 and "can run here" in p.stdout, "after the fix, doctor says it can run",
       p.stdout)
    rc, out, err = run(scn)
    ok(rc == 0, "...and it runs", err)
finally:
    if srv:
        srv.stop()
    teardown()
done()
