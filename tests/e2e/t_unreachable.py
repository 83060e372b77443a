#!/usr/bin/env python3
"""No route to the target: connects that fail with EHOSTUNREACH (a route of
type unreachable) or ENETUNREACH (no route at all) are their own error
class, `unreachable`, not `other`, over TCP and UDP; the run exits 1 and
says what to check. One that prohibits (EACCES) stays `other`, with the
errno named in the held note. Runs in a network namespace of its own, with only
loopback and those routes: nothing leaves it."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, done, ok, skip_all  # noqa: E402

NS = "surge-u%d" % (os.getpid() % 100000)


def sh(*argv, check=True):
    p = subprocess.run(["ip", "netns", "exec", NS] + list(argv), capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), p.stderr.strip()))
    return p


def run(target, *args):
    """surge run TARGET for 1 s in the namespace: (exit code, JSON, stderr)."""
    js = os.path.join(tempfile.mkdtemp(prefix="surge-unreach-"), "r.json")
    p = subprocess.run(["ip", "netns", "exec", NS, SURGE, "run", target, "-d", "1", "-c", "4",
                        "-w", "1", "--no-progress", "-q", "--json", js] + list(args),
                       capture_output=True, text=True, timeout=60)
    try:
        with open(js) as f:
            return p.returncode, json.load(f), p.stderr
    except (OSError, ValueError):
        return p.returncode, None, p.stderr


try:
    subprocess.run(["ip", "netns", "add", NS], check=True, capture_output=True)
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "route", "add", "unreachable", "198.18.99.0/24")
    sh("ip", "-6", "route", "add", "unreachable", "2001:2:99::/64")
    sh("ip", "route", "add", "prohibit", "198.18.98.0/24")
except (RuntimeError, FileNotFoundError, subprocess.CalledProcessError) as e:
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    skip_all("cannot create a network namespace here: %s" % e)

try:
    cases = [
        ("TCP, a route of type unreachable (EHOSTUNREACH)", "tcp://198.18.99.1:7000", "EHOSTUNREACH"),
        ("TCP, no route at all (ENETUNREACH)", "tcp://198.18.5.1:7000", "ENETUNREACH"),
        ("IPv6, a route of type unreachable", "tcp://[2001:2:99::1]:7000", "EHOSTUNREACH"),
    ]
    for label, target, errno_name in cases:
        rc, j, err = run(target)
        ok(j is not None, "%s: a JSON report" % label, err)
        if not j:
            continue
        by = j["totals"]["errors"]["by_class"]
        counters = j.get("counters", {})
        ok(rc == 1 and by.get("unreachable", 0) > 0 and by["other"] == 0 and
           by.get("unreachable", 0) == j["totals"]["errors"]["total"],
           "%s: exit %d, every error in class unreachable (%d), none other (%d)"
           % (label, rc, by.get("unreachable", 0), by["other"]), err)
        ok(counters.get("errno." + errno_name, 0) == by.get("unreachable", 0),
           "%s: errno.%s counts each failed connect" % (label, errno_name), str(counters))
        ok("host or network unreachable" in err and "ip route get" in err,
           "%s: the message says so and what shows the route" % label, err)

    # A route that prohibits (EACCES) is no class of its own: "other", and
    # the held note names the errno behind it (before, it said no connect
    # had failed).
    rc, j, err = run("tcp://198.18.98.1:7000")
    if j:
        other = j["totals"]["errors"]["by_class"]["other"]
        held = j.get("outcome", {}).get("connections_held", {})
        ok(rc == 1 and other > 0 and held.get("peak_open") == 0 and
           held.get("note") == "%d connects failed: other %d (errno.EACCES %d)" % (other, other, other),
           "a prohibit route: every connect failed as other, the note counts all %d and names "
           "errno.EACCES (%s)" % (other, held.get("note")), err)
    else:
        ok(False, "a prohibit route: a JSON report", err)

    # UDP: a connected socket's connect fails the same way.
    d = tempfile.mkdtemp(prefix="surge-unreach-")
    scn = os.path.join(d, "dns.lua")
    with open(scn, "w") as f:
        f.write('local dns = require "surge.proto.dns"\n'
                'return { target = "udp://198.18.99.1:53", protocol = dns.udp { '
                'queries = { "example.com A" } }, connections = 4, duration = "1s" }\n')
    rc, j, err = run(scn)
    ok(j is not None, "UDP: a JSON report", err)
    if j:
        by = j["totals"]["errors"]["by_class"]
        ok(rc == 1 and by.get("unreachable", 0) > 0 and by["other"] == 0,
           "UDP: exit %d, errors in class unreachable (%d), none other (%d)"
           % (rc, by.get("unreachable", 0), by["other"]), err)
finally:
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
done()
