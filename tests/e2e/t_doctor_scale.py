#!/usr/bin/env python3
"""surge doctor plans a million connections (engine/doctor.c, check_scale):
workers on both sides from the fd limit, sockets against fs.file-max, the
kernel's memory per socket, tcp_mem and tcp_max_orphans, each read from this
machine's /proc and checked here against the same files."""
import math
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import done, ok, surge, write_scenario  # noqa: E402


def proc(name):
    with open("/proc/sys/" + name.replace(".", "/")) as f:
        return [int(x) for x in f.read().split()]


rc, out, err = surge("doctor", "-c", "1M")
m = re.search(r"open files: (\d+) per process .*holds (\d+) itself", out)
fds, reserve = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
want = math.ceil(1000000 / (fds - reserve)) if fds else -1
ok(rc in (0, 4) and re.search(r"1000000 connections: surge runs %d workers" % want, out),
   "doctor -c 1M: surge's workers = ceil(1M / %d fds) = %d" % (fds - reserve, want), out)
srv = math.ceil(1000000 / (fds - 64)) if fds else -1
ok(">= %d processes at %d fds each (e.g. surge serve echo -w %d)" % (srv, fds, srv) in out,
   "the server side on this machine: >= %d processes" % srv, out)
ok(re.search(r"fs\.file-max = %d: 2000000 sockets on this machine" % proc("fs.file-max")[0], out),
   "fs.file-max against 2 sockets per connection (both ends here)", out)
ok("kernel memory: 2000000 sockets x ~5 KiB" in out, "kernel memory planned per socket", out)
mem = proc("net.ipv4.tcp_mem")
line = [x for x in out.splitlines() if "net.ipv4.tcp_mem = %d %d %d pages" % tuple(mem) in x]
ok(line and line[0].split()[0] == ("warn" if mem[2] < 2000000 else "ok"),
   "tcp_mem read from /proc (%s), a warning iff its limit is under the sockets" % mem, out)
orph = proc("net.ipv4.tcp_max_orphans")[0]
line = [x for x in out.splitlines() if "net.ipv4.tcp_max_orphans = %d:" % orph in x]
ok(line and line[0].split()[0] == ("warn" if orph < 1000000 else "ok"),
   "tcp_max_orphans (%d) warned of iff under the connections" % orph, out)

# Another machine's server: one socket per connection here.
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://198.18.0.1:7", protocol = echo.new { size = 16 },
         connections = 1000000, bind = { "127.0.11.1-127.0.11.64", pick = "permutation" } }
""")
rc, out, err = surge("doctor", scn)
ok("1000000 sockets on this machine (1 per connection)" in out and "server on this machine" not in out,
   "a remote target: 1 socket per connection, no server side planned", out + err)


def mem_available_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024.0
    return 0


# TLS memory (issue 13): ~22 KiB a TLS 1.3 connection, ~14 with TLS 1.2,
# against MemAvailable: FAIL past it, warn past half of it. --target alone
# plans the URL as `surge doctor URL` does (it used to be ignored).
for args, per, version in ((["-c", "100000", "--target", "tls://127.0.0.1:853"], 22, "TLS 1.3"),
                           (["tls://127.0.0.1:853", "-c", "100000"], 22, "TLS 1.3"),
                           (["-c", "100000", "--target", "tls://127.0.0.1:853", "-o",
                             "tls.max_version=1.2"], 14, "TLS 1.2"),
                           (["-c", "2M", "--target", "https://127.0.0.1:8443"], 22, "TLS 1.3")):
    rc, out, err = surge("doctor", *args)
    conns = 2000000 if "2M" in args else 100000
    need = conns * per / 1024.0
    avail = mem_available_mib()
    level = "FAIL" if need > avail else "warn" if need > avail / 2 else "ok"
    line = [x for x in out.splitlines() if "TLS memory: %d connections x ~%d KiB (%s, OpenSSL) = %.0f MiB"
            % (conns, per, version, need) in x]
    ok(line and line[0].split()[0] == level,
       "doctor %s: TLS memory %d x ~%d KiB (%s) = %.0f MiB, %s against %.0f MiB available"
       % (" ".join(args), conns, per, version, need, level, avail), out + err)
# Without a scenario the flags are checked as with one: exit 2, the option
# and its flag named (they used to be ignored, exit 0).
for args, want in ((["-w", "0"], "option 'workers': expected a whole number >= 1, got \"0\" (-w / -o workers=)"),
                   (["-w", "5000"], "option 'workers': expected at most 1024 worker processes"),
                   (["--pick", "x"], "option 'pick': expected \"round-robin\""),
                   (["--resolver", "nope"], "option 'resolver': expected servers to be IP addresses"),
                   (["-o", "foo=1"], "unknown option 'foo'"),
                   (["-o", "connections=abc"], "option 'connections': expected a whole number >= 1")):
    rc, out, err = surge("doctor", *args)
    ok(rc == 2 and "surge doctor: command line: " + want in err,
       "doctor %s without a scenario: exit 2, named as with one" % " ".join(args), out + err)
rc, out, err = surge("doctor", "-c", "1000", "--target", "tcp://127.0.0.1:7000")
ok(rc == 0 and "targets: 1 destination address (127.0.0.1:7000)" in out and "TLS memory" not in out,
   "doctor --target tcp://: the target is planned, no TLS memory", out + err)
done()
