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
done()
