#!/usr/bin/env python3
# surge-test: alone (tests/run): loads both cores (knotd and many runs)
"""Target names resolved with c-ares against a real DNS server (knotd) started
here: every A and AAAA address is used, failures are early and clear (exit 5),
and a zone change during a run brings the new address into the rotation.

Runs in a network namespace of its own (unshare -n): loopback there carries
127.0.0.0/8, ::1 and the test's 2001:2::5 and 2001:2::6, and everything
(knot, echo servers, surge) disappears with it. Never uses /etc/hosts or the
machine's resolver: every scenario names the knot server as its resolver.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, diag, done, ok, skip_all, surge, write_scenario  # noqa: E402

from knot import Knot  # noqa: E402

V6 = ["2001:2::5", "2001:2::6"]

if os.environ.get("SURGE_T_RESOLVE_NETNS") != "1":
    if not shutil.which("knotd"):
        skip_all("knotd not installed (apt-get install knot)")
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        skip_all("needs root, unshare and ip for a private network namespace")
    env = dict(os.environ, SURGE_T_RESOLVE_NETNS="1")
    os.execvpe("unshare", ["unshare", "-n", sys.executable, os.path.abspath(__file__)], env)

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
for a in V6:
    subprocess.run(["ip", "-6", "addr", "add", a + "/128", "dev", "lo", "nodad"], check=True)


def free_port_everywhere(hosts):
    """A TCP port free on every address (they share one target port)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            for h in hosts:
                fam = socket.AF_INET6 if ":" in h else socket.AF_INET
                with socket.socket(fam, socket.SOCK_STREAM) as t:
                    t.bind((h, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no common free port")


def listen_arg(host, port):
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def label(host, port):
    return listen_arg(host, port)


def dest_rows(out):
    """The report's per-destination table: {label: (conns, failed, completed)}."""
    rows = {}
    for m in re.finditer(r"^  (\S+:\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s", out, re.M):
        rows[m.group(1)] = tuple(int(m.group(i)) for i in (2, 3, 4))
    return rows


SCN = """
local echo = require "surge.proto.echo"
return {
  target = "tcp://%(name)s:%(port)d",
  protocol = echo.new { size = 32, pipeline = 1 },
  connections = %(conns)d,
  duration = "%(dur)s",
  resolver = { servers = { "127.0.0.1:%(dns)d" }, timeout = "%(timeout)s", tries = 1 },
  %(extra)s
}
"""


def scenario(name, port, dns, conns=12, dur="2s", extra="", timeout="1s"):
    return write_scenario(SCN % {"name": name, "port": port, "dns": dns, "conns": conns,
                                 "dur": dur, "extra": extra, "timeout": timeout})


V4 = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
ZONE = "".join("farm A %s\n" % a for a in V4) + "".join("farm AAAA %s\n" % a for a in V6) + \
    "v4only A 127.0.0.2\n" + "grow A 127.0.0.2\n"

port = free_port_everywhere(V4 + V6 + ["127.0.0.6"])

with Knot("surge.test", ZONE) as k:
    diag("knotd on 127.0.0.1:%d, echo servers on port %d" % (k.port, port))
    servers = {h: Serve("echo", listen=listen_arg(h, port)) for h in V4 + V6}

    # 1. Every address of the name carries connections, spread evenly.
    scn = scenario("farm.surge.test", port, k.port, conns=12)
    rc, out, err = surge("run", scn, "-w", "2")
    seen = {h: s.stop() for h, s in servers.items()}
    ok(rc == 0, "run against a name with 4 A + 2 AAAA exits 0", out + err)
    ok("(6 addresses)" in out, "the header counts 6 addresses", out)
    acc = {h: seen[h].get("accepted") for h in seen}
    ok(all(v == 2 for v in acc.values()),
       "12 connections spread 2 per address over all 6 (%s)" % acc, acc)
    rows = dest_rows(out)
    ok(sorted(rows) == sorted(label(h, port) for h in V4 + V6),
       "the report has one row per destination address", out)
    ok(all(r[0] == 2 and r[1] == 0 and r[2] > 0 for r in rows.values()),
       "each row: 2 connections, 0 failed, requests completed", out)

    # 2. family = "ipv4" keeps the A records only.
    servers = {h: Serve("echo", listen=listen_arg(h, port)) for h in V4}
    scn = scenario("farm.surge.test", port, k.port, conns=8, extra='family = "ipv4",')
    rc, out, err = surge("run", scn, "-w", "2")
    acc = {h: s.stop().get("accepted") for h, s in servers.items()}
    ok(rc == 0 and "(4 addresses)" in out and all(v == 2 for v in acc.values()),
       "family = ipv4: 8 connections over the 4 A addresses (%s)" % acc, out + err)

    # 3. NXDOMAIN: exit 5 before any traffic, naming the name and the resolver.
    scn = scenario("nope.surge.test", port, k.port)
    rc, out, err = surge("run", scn)
    ok(rc == 5, "NXDOMAIN exits 5 (got %d)" % rc, err)
    ok("nope.surge.test" in err and "127.0.0.1:%d" % k.port in err and "NXDOMAIN" in err,
       "the message names the name, the resolver and NXDOMAIN", err)
    ok("Ran " not in out, "nothing ran", out)

    # 3b. doctor resolves as run does: c-ares, the scenario's resolver.
    rc, out, err = surge("doctor", scenario("farm.surge.test", port, k.port))
    ok(rc == 0 and "ok    targets: 6 destination addresses" in out,
       "doctor finds the 6 addresses through the scenario's resolver", out + err)
    rc, out, err = surge("doctor", scn)
    ok(rc == 4 and "FAIL  cannot resolve 'nope.surge.test'" in out and "NXDOMAIN" in out
       and "cannot run here" in out, "doctor: NXDOMAIN is a FAIL line, exit 4", out + err)

    # 4. No address of the wanted family.
    scn = scenario("v4only.surge.test", port, k.port, extra='family = "ipv6",')
    rc, out, err = surge("run", scn)
    ok(rc == 5 and "v4only.surge.test" in err and "no address of the wanted family" in err
       and "IPv6" in err, "family = ipv6 on an A-only name exits 5 and says why", err)

    # 5. A server that never answers: timeout, still exit 5, within bounds.
    mute = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mute.bind(("127.0.0.1", 0))
    scn = scenario("farm.surge.test", port, mute.getsockname()[1], timeout="300ms")
    t0 = time.time()
    rc, out, err = surge("run", scn)
    took = time.time() - t0
    mute.close()
    ok(rc == 5 and "timeout" in err and "farm.surge.test" in err,
       "a silent DNS server: exit 5 with 'timeout' (%.1fs)" % took, err)

    # 6. --resolver on the command line overrides the scenario's.
    servers = {h: Serve("echo", listen=listen_arg(h, port)) for h in V4 + V6}
    scn = scenario("farm.surge.test", port, 9, conns=6, dur="1s")  # port 9: nobody
    rc, out, err = surge("run", scn, "--resolver", "127.0.0.1:%d" % k.port)
    for s in servers.values():
        s.stop()
    ok(rc == 0 and "(6 addresses)" in out, "--resolver 127.0.0.1:PORT is used", out + err)

    # 7. A bad resolver setting is a usage error naming the option.
    scn = scenario("farm.surge.test", port, k.port, extra="")
    rc, out, err = surge("run", scn, "--resolver", "dns.example:53")
    ok(rc == 2 and "resolver" in err, "--resolver with a name is refused (exit 2)", err)

    # 8. Re-resolution during a run: a new address joins, a removed one drains.
    a, b = "127.0.0.2", "127.0.0.6"
    servers = {h: Serve("echo", listen=listen_arg(h, port)) for h in (a, b)}
    scn = scenario("grow.surge.test", port, k.port, conns=6, dur="6s",
                   extra='resolve_every = "300ms", progress = "on",')
    proc = subprocess.Popen([os.environ.get("SURGE") or os.path.join(
        os.path.dirname(__file__), "..", "..", "build", "surge"), "run", scn, "-w", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    k.reload(ZONE.replace("grow A 127.0.0.2\n", "grow A 127.0.0.2\ngrow A 127.0.0.6\n"))
    time.sleep(2.0)
    k.reload(ZONE.replace("grow A 127.0.0.2\n", "grow A 127.0.0.6\n"))
    out, err = proc.communicate(timeout=60)
    seen = {h: s.stop() for h, s in servers.items()}
    ok(proc.returncode == 0, "the run with zone changes exits 0", out + err)
    ok(re.search(r"'grow\.surge\.test' now has 2 addresses: \+127\.0\.0\.6:%d" % port, err),
       "the progress output logs the new address", err)
    ok(re.search(r"'grow\.surge\.test' now has 1 address: -127\.0\.0\.2:%d" % port, err),
       "the progress output logs the removed address", err)
    ok(seen[b].get("accepted", 0) >= 3 and seen[b].get("bytes_in", 0) > 0,
       "the new address received connections and requests (%s)" % seen[b], seen)
    rows = dest_rows(out)
    ok(rows.get(label(b, port), (0, 0, 0))[2] > 0 and rows.get(label(a, port), (0, 0, 0))[2] > 0,
       "both addresses have completed requests in the report", out)
    ok(rows.get(label(a, port), (0, 1, 0))[1] == 0 and "errors      0" in out,
       "draining the removed address failed nothing", out)

    # 9. A name that stops resolving keeps its last addresses and warns.
    servers = {h: Serve("echo", listen=listen_arg(h, port)) for h in (b,)}
    scn = scenario("grow.surge.test", port, k.port, conns=4, dur="3s",
                   extra='resolve_every = "300ms",')
    proc = subprocess.Popen([os.environ.get("SURGE") or os.path.join(
        os.path.dirname(__file__), "..", "..", "build", "surge"), "run", scn],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    k.reload(ZONE.replace("grow A 127.0.0.2\n", ""))
    out, err = proc.communicate(timeout=60)
    seen = servers[b].stop()
    ok(proc.returncode == 0 and "warning: re-resolving 'grow.surge.test'" in err
       and "keeping the last 1 address" in err, "a vanished name warns and keeps its address",
       out + err)
    ok("errors      0" in out, "and the run goes on without errors", out)

done()
