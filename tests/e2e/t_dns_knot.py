#!/usr/bin/env python3
"""surge.proto.dns against a real DNS server (Knot, from Debian) on loopback:
rcode counts match the zone, answers carry the zone's records, 2000 connections
stay open for the whole run, and a server closing idle connections is counted
and the connections reopened. Numbers come from the text report (parse_report)."""
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from knot import Knot  # noqa: E402
from tap import counters, done, ok, parse_report, skip_all, surge, write_scenario, diag  # noqa: E402

if not Knot.available():
    skip_all("knotd is not installed (make deps)")

ZONE = "example.test"
RECORDS = """www A 192.0.2.1
www AAAA 2001:db8::1
mail A 192.0.2.2
@ MX 10 mail
@ TXT "hello"
"""
# Per pass over the file: 5 answers with records, 1 NODATA, 2 NXDOMAIN.
QUERIES = """# the zone's names (NOERROR with records)
www.example.test A
www.example.test AAAA
mail.example.test A
example.test MX
example.test TXT
mail.example.test TXT    # exists, no TXT: NOERROR without records
nope.example.test A      # not in the zone: NXDOMAIN
missing.example.test AAAA
"""

# The module's own response() plus a check of the record data: a response
# counts as test.zone_data when it carries one of the zone's RDATAs.
SCENARIO = """
local ffi = require "ffi"
local surge = require "surge"
local dns = require "surge.proto.dns"
local p = dns.tcp { queries = %(queries)q, pipeline = 2, per_qtype = true }
local inner = p.response
local wanted = { "\\0\\4\\192\\0\\2\\1", "\\0\\4\\192\\0\\2\\2", "\\5hello",
  "\\0\\16\\32\\1\\13\\184\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\1", "\\0\\10\\4mail" }
p.response = function(ctx, ptr, len)
  local key, err = inner(ctx, ptr, len)
  if not err then
    local s = ffi.string(ptr, len)
    for _, w in ipairs(wanted) do
      if s:find(w, 1, true) then surge.count("test.zone_data") break end
    end
  end
  return key, err
end
return {
  target = "tcp://127.0.0.1:%(port)d",
  protocol = p,
  connections = %(conns)d,
  rate = %(rate)d,
  duration = "%(dur)s",
  timeout = "%(timeout)s",
  connect_rate = 2000,  -- knotd listens with a backlog of 10: no SYN bursts
}
"""


def lua_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def scenario(**kw):
    text = SCENARIO.replace("%(queries)q", lua_quote(kw.pop("queries")))
    return write_scenario(text % kw)


def established(port):
    """Connections to port in ESTABLISHED state, as the kernel sees them."""
    p = subprocess.run(["ss", "-Htn", "state", "established", "( sport = :%d )" % port],
                       capture_output=True, text=True)
    return len([l for l in p.stdout.splitlines() if l.strip()])


qfile = os.path.join(tempfile.mkdtemp(prefix="surge-dns-"), "queries.txt")
with open(qfile, "w") as f:
    f.write(QUERIES)

# 2000 connections for 8 s at 4000 queries/s: every one opened once, none lost.
with Knot(ZONE, RECORDS) as k:
    scn = scenario(queries=qfile, port=k.port, conns=2000, rate=4000, dur="8s", timeout="5s")
    seen = []

    def watch():
        for at in (3.0, 6.0):  # well after the ramp-up, well before the end
            time.sleep(at - (time.time() - t0))
            seen.append(established(k.port))

    t0 = time.time()
    th = threading.Thread(target=watch)
    th.start()
    rc, out, err = surge("run", scn, "-w", "2", "--no-progress", timeout=90)
    th.join()
    r = parse_report(out)
    c = counters(out)
    ok(rc == 0, "run against knot exits 0", err + out)
    done_n = r.get("completed", 0)
    ok(done_n > 25000, "queries completed: %d" % done_n, out)
    ok(r.get("errors") == 0, "no errors (%s)" % r.get("error_classes"), out)
    noerr, nxd = c.get("dns.rcode.NOERROR", 0), c.get("dns.rcode.NXDOMAIN", 0)
    ok(noerr + nxd == done_n and not [n for n in c if n.startswith("dns.rcode.")
                                      and n not in ("dns.rcode.NOERROR", "dns.rcode.NXDOMAIN")],
       "every answer NOERROR or NXDOMAIN (%d + %d = %d)" % (noerr, nxd, done_n), out)
    # The workers walk the file together (each every W-th line): a partial
    # round at the end skews the mix by at most 8 queries a worker.
    slack = 2 * 8
    ok(abs(nxd - done_n * 2 / 8) <= slack, "NXDOMAIN = the 2 names outside the zone: %d of %d" % (nxd, done_n))
    ok(abs(c.get("dns.answers.with_records", 0) - done_n * 5 / 8) <= slack,
       "answers with records = the 5 names with data: %d" % c.get("dns.answers.with_records", 0))
    ok(abs(c.get("dns.answers.empty", 0) - done_n * 3 / 8) <= slack,
       "empty answers = NODATA + NXDOMAIN: %d" % c.get("dns.answers.empty", 0))
    ok(c.get("test.zone_data") == c.get("dns.answers.with_records"),
       "every answer with records carries the zone's RDATA (%s)" % c.get("test.zone_data"))
    ok(c.get("dns.qtype.MX.rcode.NOERROR", 0) > 0 and c.get("dns.qtype.AAAA.rcode.NXDOMAIN", 0) > 0
       and c.get("dns.qtype.A.rcode.NXDOMAIN", 0) > 0, "per-QTYPE counts", out)
    ok(r["rows"].get("dns.qtype.TXT.latency", {}).get("count", 0) > 0, "per-QTYPE latency", out)
    ok(r.get("opened") == 2000 and r.get("attempts") == 2000 and r.get("peak_open") == 2000,
       "2000 connections opened once each (opened %s, attempts %s, peak %s)"
       % (r.get("opened"), r.get("attempts"), r.get("peak_open")), out)
    ok(len(seen) == 2 and min(seen) >= 2000,
       "knot's side: %s established connections at 3 s and 6 s" % seen)

# A server that closes idle connections: counted, no error (no query was
# lost), and surge reconnects.
with Knot(ZONE, RECORDS, tcp_idle_timeout=1) as k:
    scn = scenario(queries=qfile, port=k.port, conns=10, rate=4, dur="5s", timeout="2s")
    rc, out, err = surge("run", scn, "-w", "1", "--no-progress", timeout=60)
    r = parse_report(out)
    closes = counters(out).get("conn.closed_by_server", 0)
    ok(closes > 0 and r.get("errors") == 0 and r.get("completed") == r.get("sent"),
       "idle connections closed by knot are counted conn.closed_by_server (%d), no error, every "
       "query answered" % closes, out)
    ok(r.get("attempts", 0) > 10 and r.get("opened", 0) > 10,
       "and reopened: %s connects for 10 connections" % r.get("attempts"), out)
    ok(r.get("completed", 0) >= 15, "queries still answered: %s" % r.get("completed"), out)
    diag("idle-close run: " + " ".join(l.strip() for l in out.splitlines() if "errors" in l))

done()
