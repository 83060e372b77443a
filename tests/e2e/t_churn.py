#!/usr/bin/env python3
"""Connection churn: requests_per_connection closes a connection after N
requests and the pool opens a new one; connection_lifetime does it by age
(with jitter). Recycled connections are counted, never errors; the server's
accept count agrees with the connections the report opened."""
import csv
import io
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, Serve, done, ok, surge, write_scenario  # noqa: E402

ECHO = """
local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%d",
  protocol = echo.new { size = 32, pipeline = 1 },
  connections = %d,
  %s
}
"""


def run(srv, conns, extra, *args):
    scn = write_scenario(ECHO % (srv.port, conns, extra))
    jpath = scn + ".json"
    if os.path.exists(jpath):
        os.unlink(jpath)
    rc, out, err = surge("run", scn, "--json", jpath, "-q", *args)
    try:
        with open(jpath) as f:
            return rc, json.load(f), err, scn
    except (OSError, ValueError):
        return rc, {}, err, scn


# requests_per_connection = 10: connections opened = requests / 10, give or
# take one per connection slot (the last ones the count cuts short).
for label, args in (("open model -w 1", ["-r", "1000", "-w", "1"]),
                    ("open model -w 2", ["-r", "1000", "-w", "2"]),
                    ("closed model -w 2", ["-w", "2"])):
    srv = Serve("echo")
    rc, j, err, _ = run(srv, 5, "requests_per_connection = 10,", "-n", "1000", *args)
    seen = srv.stop()
    t = j.get("totals", {})
    opened = t.get("connections", {}).get("opened")
    recycled = j.get("counters", {}).get("conn.recycled", 0)
    ok(rc == 0 and t.get("requests", {}).get("completed") == 1000
       and t.get("errors", {}).get("total") == 0,
       "%s: 1000 requests, no errors" % label, (t, err))
    ok(opened is not None and 100 <= opened <= 105 and seen.get("accepted") == opened,
       "%s: opened %s = the server's accepted %s, within 100..105"
       % (label, opened, seen.get("accepted")), seen)
    ok(95 <= recycled <= 100, "%s: %d connections recycled, not errors" % (label, recycled))
    fa = j.get("histograms", {}).get("conn.first_answer", {})
    con = j.get("histograms", {}).get("connect", {})
    # Those of the connect phase waited for the start (up to 5), the last
    # ones may have had no request (up to 5).
    ok(opened - 5 - 5 <= fa.get("count", -1) <= opened and fa.get("min", 0) >= con.get("min", 1),
       "%s: time to first answer on %s fresh connections, never below a connect (%s >= %s ns)"
       % (label, fa.get("count"), fa.get("min"), con.get("min")))

# A recycled slot reconnects at once (connect_rate allowing), whatever the
# worker's tick is doing: with a request count the tick runs every 10 ms
# instead of resting, and slots that waited for it opened 100 connections a
# second each. requests_per_connection = 1 for 1 s gives the rate without a
# count; with -n 2000 (and 5 s) the count must end the run at a rate close
# to it. Before, the 2 slots made 200 a second and the duration ended it.
srv = Serve("echo")
rc, j, err, _ = run(srv, 2, 'requests_per_connection = 1, duration = "1s",', "-w", "1")
free_opened = j.get("totals", {}).get("connections", {}).get("opened", 0)
free_rate = free_opened / max(j.get("run", {}).get("elapsed_s", 1.0) or 1.0, 1e-3)
rc, j, err2, _ = run(srv, 2, 'requests_per_connection = 1, duration = "5s",', "-w", "1",
                     "-n", "2000")
seen = srv.stop()
t = j.get("totals", {})
opened = t.get("connections", {}).get("opened", 0)
cfg = j.get("run", {})
n_rate = opened / max(cfg.get("elapsed_s", 5.0) or 5.0, 1e-3)
ok(rc == 0 and t.get("requests", {}).get("completed") == 2000 and 2000 <= opened <= 2002
   and t.get("errors", {}).get("total") == 0 and cfg.get("ended_by") == "requests",
   "requests_per_connection = 1 -n 2000 -d 5s: %d connections for 2000 requests, ended by "
   "%s (the count: requests)" % (opened, cfg.get("ended_by")), (t, err2))
# A fifth, not half: the count's run lasts a fifth of a second, and one
# stall of the loaded machine (the ASan pass, in parallel) halved it once;
# the fault this catches made 200/s, a fiftieth.
ok(free_opened > 0 and n_rate >= free_rate / 5,
   "... opened at %.0f/s, close to the %.0f/s without a count (at least a fifth)"
   % (n_rate, free_rate), err)

# connection_lifetime with jitter: each connection is recycled at 150 ms
# +- 50 ms of age. Its age is checked as it sends, so of the requests sent
# later than 200 ms after its first (it opened before that one), at most
# one, the one that found it too old, goes out on it: a stalled machine
# moves the times, not that count.
srv = Serve("echo")
smp = os.path.join(os.path.dirname(write_scenario("")), "churn.bin")
rc, j, err, scn = run(srv, 4, 'connection_lifetime = { "150ms", jitter = "50ms" }, think = "5ms",'
                      ' duration = "1500ms",', "-w", "1", "--samples", smp, "--progress")
seen = srv.stop()
t = j.get("totals", {})
opened = t.get("connections", {}).get("opened", 0)
ok(rc == 0 and t.get("errors", {}).get("total") == 0 and 16 <= opened <= 80
   and seen.get("accepted") == opened,
   "lifetime 150ms +- 50ms, 4 connections for 1.5 s: %d opened (16..80: 4 slots, ages 100..200 ms), the server's %s"
   % (opened, seen.get("accepted")), err)
rc2, out2, err2 = surge("samples", smp, "--csv")
sends = {}
for r in csv.DictReader(io.StringIO(out2)):
    sends.setdefault((r["worker"], r["conn"]), []).append(int(r["sent_ns"]))
late = {k: sum(1 for x in v if x > min(v) + 200e6) for k, v in sends.items()}
ok(len(sends) >= 16 and max(late.values()) <= 1,
   "no connection took a request after the one that found it past its age (%d connections, "
   "most late sends on one: %d)" % (len(sends), max(late.values(), default=0)))
ok("opened " in err and "/s" in err, "the progress line shows connections opened per second", err)

# connection_rate: new connections are the workload, 100 a second for 1.5 s
# from the start (no tokens saved up while waiting for it: those opened 100
# ms worth at t = 0, 1049 of 1000 at 500/s for 2 s), each closing after its
# 5 requests; connections only caps how many at once.
srv = Serve("echo")
rc, j, err, _ = run(srv, 50, 'connection_rate = 100, requests_per_connection = 5, think = "10ms",'
                    ' duration = "1500ms",', "-w", "2")
seen = srv.stop()
t = j.get("totals", {})
opened = t.get("connections", {}).get("opened", 0)
# A stalled machine opens fewer (a tick late by more than 0.1 s loses its
# tokens: no flood after a stall), never more.
ok(rc == 0 and t.get("errors", {}).get("total") == 0 and 30 <= opened <= 152
   and seen.get("accepted") == opened,
   "connection_rate 100 for 1.5 s: %d opened (at most 152), the server accepted %s"
   % (opened, seen.get("accepted")), err)
scn = write_scenario(ECHO % (1, 5, "connection_rate = 100,"))
rc, out, err = surge("run", scn)
ok(rc == 2 and "connections would never close" in err,
   "connection_rate without requests_per_connection or connection_lifetime is refused", err)

# Errors carry the system's word beside their class: errno.<NAME> counters.
import socket  # noqa: E402
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]  # bound, never listening: connects are refused
    scn = write_scenario(ECHO % (closed, 2, 'duration = "500ms",'))
    jpath = scn + ".json"
    rc, out, err = surge("run", scn, "-w", "1", "--json", jpath, "-q")
    j = json.load(open(jpath)) if os.path.exists(jpath) else {}
refused = j.get("totals", {}).get("errors", {}).get("by_class", {}).get("connect_refused", 0)
ok(refused > 0 and j.get("counters", {}).get("errno.ECONNREFUSED") == refused,
   "refused connects: errno.ECONNREFUSED %s = the class's %d"
   % (j.get("counters", {}).get("errno.ECONNREFUSED"), refused), out + err)

# A recycled connection drains: it takes no request, however much room its
# pipeline has. With pipeline 8 and one request per connection no pipeline
# is ever full, so a request dropped while every open connection drains
# counts as dropped with none to take it, not dropped_busy (before, it did,
# and the warning could blame the server's latency for churn's reconnects).
srv = Serve("echo")
scn = write_scenario("""local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16, pipeline = 8 },
         connections = 2, rate = 20000, duration = "1s", backlog = 1,
         requests_per_connection = 1 }
""" % srv.port)
rc, out, err = surge("run", scn, "-w", "1", "-q", "--json", scn + ".json")
srv.stop()
req = json.load(open(scn + ".json"))["totals"]["requests"] if os.path.exists(scn + ".json") else {}
ok(req.get("dropped", 0) > 0 and req.get("dropped_busy") == 0 and
   req.get("dropped_no_conn") == req.get("dropped"),
   "churn at 1 request per connection, pipeline 8: %s dropped, none while pipelines were full "
   "(dropped_busy %s)" % (req.get("dropped"), req.get("dropped_busy")), (req, err))

# Ports: churn leaves every closed connection's port in TIME_WAIT for 60 s.
# 1000 new connections a second need ~60000 ports per (source, destination)
# pair; with --ports giving 1000, the plan says so before any traffic.
scn = write_scenario(ECHO % (closed, 5, 'connection_rate = 1000, requests_per_connection = 2,'
                             ' duration = "200ms",'))
rc, out, err = surge("run", scn, "-w", "1", "--ports", "40000-40999", "-q")
ok("connection churn of 1000 new connections/s" in err and "~60005 ports per (source, "
   "destination) pair (1000/s x 60 s / 1 pair, plus 5 open), but a pair has 1000" in err
   and "tcp_tw_reuse=1" in err and "≥ 61 source addresses" in err,
   "churn that cannot fit the ports' TIME_WAIT is warned of, with the arithmetic and fixes", err)
# Where the kernel will not reuse TIME_WAIT ports (tcp_tw_reuse is per
# network namespace: 0 in a namespace of the test's own), the same run is
# refused before traffic, exit 4, with the same arithmetic.
ns = "surge-churn-%d" % os.getpid()
if os.geteuid() == 0 and subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode == 0:
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=0"],
                       check=True)
        p = subprocess.run(["ip", "netns", "exec", ns, SURGE, "run", scn, "-w", "1", "--ports",
                            "40000-40999", "-q"], capture_output=True, text=True, timeout=60)
        ok(p.returncode == 4 and "tcp_tw_reuse is 0" in p.stderr and
           "refused before traffic" in p.stderr,
           "tcp_tw_reuse=0: the churn that cannot fit is refused, exit 4 (%d)" % p.returncode,
           p.stderr)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
else:
    ok(False, "a network namespace for the tcp_tw_reuse=0 case (needs root and iproute2)")
rc, out, err = surge("doctor", scn, "--ports", "40000-40999")
ok("connection churn of 1000 new connections/s" in out + err and "tcp_tw_reuse=1" in out + err,
   "surge doctor warns of the same churn before any run", out + err)
scn = write_scenario(ECHO % (closed, 5, 'connection_rate = 10, requests_per_connection = 2,'
                             ' duration = "200ms",'))
rc, out, err = surge("run", scn, "-w", "1", "--ports", "40000-40999", "-q")
ok("TIME_WAIT" not in err, "10 a second (600 ports) fits: no warning", err)

# Mistakes are scenario errors that say what was expected.
rc, out, err = surge("run", scn, "-o", "requests_per_connection=0")
ok(rc == 2 and "requests_per_connection" in err, "requests_per_connection = 0 is refused", err)
scn = write_scenario(ECHO % (1, 1, 'connection_lifetime = { "1s", jitter = "2s" },'))
rc, out, err = surge("run", scn)
ok(rc == 2 and "jitter must be a duration shorter than the age" in err,
   "a jitter longer than the age is refused", err)
done()
