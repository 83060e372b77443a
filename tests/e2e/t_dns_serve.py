#!/usr/bin/env python3
"""surge.proto.dns against `surge serve dns`: an injected 20 ms delay shows in
the reported percentiles, surge's rcode counts equal the server's, dropped
answers become timeouts on fresh connections, and the shipped example scenario
runs. Numbers come from the text report (parse_report) and the server's JSON."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import ROOT, Serve, counters, done, ok, parse_report, surge, write_scenario  # noqa: E402

QUERIES = os.path.join(ROOT, "scenarios", "data", "queries.txt")

SCENARIO = """
local dns = require "surge.proto.dns"
return {
  target = "tcp://127.0.0.1:%(port)d",
  protocol = dns.tcp { queries = "%(queries)s", pipeline = %(pipeline)d, ids = "%(ids)s" },
  connections = %(conns)d,
  rate = %(rate)d,
  duration = "%(dur)s",
  timeout = "%(timeout)s",
}
"""


def scenario(**kw):
    kw.setdefault("queries", QUERIES)
    kw.setdefault("ids", "random")
    kw.setdefault("timeout", "2s")
    return write_scenario(SCENARIO % kw)


def query_mix():
    """(queries per pass, NXDOMAIN per pass) of the shipped file: names under nx."""
    n = nx = 0
    with open(QUERIES) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line and not line.startswith(";"):
                n += 1
                nx += line.split()[0].rstrip(".").endswith(".nx")
    return n, nx


# --delay 20ms: every answer is held 20 ms, so the median is 20 ms plus the
# loopback round trip, far from 40 ms.
srv = Serve("dns", "--delay", "20ms", workers=1)
scn = scenario(port=srv.port, pipeline=4, conns=50, rate=2000, dur="4s")
rc, out, err = surge("run", scn, "-w", "1", "--no-progress")
seen = srv.stop()
r = parse_report(out)
c = counters(out)
lat = r["rows"].get("latency", {})
ok(rc == 0 and r.get("errors") == 0, "run exits 0 without errors", err + out)
ok(lat.get("p50") is not None and 20e6 <= lat["p50"] < 40e6,
   "p50 %.2f ms reflects the 20 ms delay" % ((lat.get("p50") or 0) / 1e6), out)
ok(lat.get("p99") is not None and lat["p99"] >= 20e6, "p99 >= 20 ms too", out)
ok(r.get("unfinished") == 0 and seen.get("queries") == r.get("sent"),
   "the server answered every query sent (%s of %s)" % (seen.get("queries"), r.get("sent")), seen)
ok(c.get("dns.rcode.NXDOMAIN") == seen.get("nxdomain") and seen.get("nxdomain", 0) > 0,
   "NXDOMAIN: surge %s = server %s" % (c.get("dns.rcode.NXDOMAIN"), seen.get("nxdomain")), out)
n, nx = query_mix()
ok(abs(c.get("dns.rcode.NXDOMAIN", 0) - r.get("completed", 0) * nx / n) <= n,
   "NXDOMAIN share matches the query file (%d of %d per pass)" % (nx, n), out)
ok(c.get("dns.rcode.NOERROR", 0) + c.get("dns.rcode.NXDOMAIN", 0) == r.get("completed"),
   "every answer counted by rcode", out)
ok(seen.get("formerr") == 0, "the server found no malformed query", seen)

# A pipeline larger than the module's (-p 32 over pipeline = 2), sequential
# IDs, closed model: nothing unmatched, nothing mismatched.
srv = Serve("dns", workers=1)
scn = write_scenario("""
local dns = require "surge.proto.dns"
return { target = "tcp://127.0.0.1:%d",
  protocol = dns.tcp { queries = "%s", pipeline = 2, ids = "sequential" },
  connections = 20, duration = "2s" }
""" % (srv.port, QUERIES))
rc, out, err = surge("run", scn, "-w", "1", "-p", "32", "--no-progress")
seen = srv.stop()
r = parse_report(out)
ok(rc == 0 and r.get("errors") == 0 and r.get("completed", 0) > 10000,
   "closed model, 32 in flight per connection: %s answers, no errors" % r.get("completed"), out)

# --drop: lost answers time out; the connection is replaced and its IDs start
# afresh, so later answers still match (no protocol errors).
srv = Serve("dns", "--drop", "2%", workers=1)
scn = scenario(port=srv.port, pipeline=2, conns=20, rate=400, dur="4s", timeout="300ms")
rc, out, err = surge("run", scn, "-w", "1", "--no-progress")
seen = srv.stop()
r = parse_report(out)
cls = r.get("error_classes", {})
ok(cls.get("request timeout", 0) > 0, "dropped answers are request timeouts (%s)" % cls, out)
ok(cls.get("protocol", 0) == 0 and set(cls) <= {"request timeout"},
   "and nothing else: no unmatched IDs after reconnecting (%s)" % cls, out)
ok(r.get("attempts", 0) > 20, "connections replaced: %s connects" % r.get("attempts"), out)

# The example a user copies, shortened, against its documented server.
srv = Serve("dns", listen="127.0.0.1:0", workers=1)
rc, out, err = surge("run", os.path.join(ROOT, "scenarios", "dns-tcp.lua"),
                     "--target", "tcp://127.0.0.1:%d" % srv.port, "-c", "100", "-r", "1000",
                     "-d", "2s", "--no-progress")
srv.stop()
r = parse_report(out)
c = counters(out)
ok(rc == 0 and r.get("errors") == 0 and c.get("dns.qtype.HTTPS.rcode.NOERROR", 0) > 0,
   "scenarios/dns-tcp.lua runs: %s answers" % r.get("completed"), err + out)
lines = out.splitlines()
head = next(i for i, line in enumerate(lines) if " p50 " in line and line.endswith("count"))
table = lines[head:lines.index("", head)]
ok(len(table) > 10 and len({len(line) for line in table if "(latency" not in line}) == 1,
   "the percentile table's columns line up, long metric names included", "\n".join(table))

# A relative query file that is not in the working directory is found beside the scenario.
srv = Serve("dns", workers=1)
scn = write_scenario("""
local dns = require "surge.proto.dns"
return { target = "tcp://127.0.0.1:%d", protocol = dns.tcp { queries = "beside.txt" },
         connections = 2, duration = "1s" }
""" % srv.port)
with open(os.path.join(os.path.dirname(scn), "beside.txt"), "w") as f:
    f.write("found.nx A\n")
rc, out, err = surge("run", scn, "-w", "1", "--no-progress")
srv.stop()
c = counters(out)
ok(rc == 0 and c.get("dns.rcode.NXDOMAIN", 0) > 0 and c.get("dns.rcode.NXDOMAIN") == parse_report(out).get("completed"),
   "queries file beside the scenario: %s NXDOMAIN" % c.get("dns.rcode.NXDOMAIN"), err + out)

# A missing query file is a scenario error naming the file.
scn = scenario(port=1, pipeline=1, conns=1, rate=1, dur="1s", queries="/nonexistent/q.txt")
rc, out, err = surge("run", scn)
ok(rc == 2 and "cannot read query file" in err and "dns.tcp" in err,
   "a missing query file: exit 2 with a message (%s)" % err.strip().splitlines()[-1:], err)

done()
