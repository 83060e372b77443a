#!/usr/bin/env python3
"""--samples FILE: one record per request. The run's latency histogram is
rebuilt from the samples and matches the report's exactly; errors and
unfinished requests have their records; every = N samples 1 in N; a file
that cannot grow ends sampling with a warning, never the run."""
import csv
import io
import json
import math
import os
import resource
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, diag, done, ok, surge, write_scenario  # noqa: E402

ECHO = """
local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%d",
  protocol = echo.new { size = 40, pipeline = 2 },
  connections = 6,
  %s
}
"""


def table(text):
    """The HdrHistogram percentile table of a --latency output, blank lines out."""
    i = text.find("Latency distribution")
    return [ln for ln in text[i:].splitlines() if ln.strip()] if i >= 0 else []


def rows(path):
    rc, out, err = surge("samples", path, "--csv")
    return rc, list(csv.DictReader(io.StringIO(out))), err


# Closed model, two workers: the histogram rebuilt from the samples is the
# report's, table for table, and independently within a bucket's width.
srv = Serve("echo")
scn = write_scenario(ECHO % (srv.port, ""))
smp, jpath = scn + ".bin", scn + ".json"
rc, out, err = surge("run", scn, "-n", "6000", "-w", "2", "--samples", smp, "--json", jpath,
                     "--latency")
srv.stop()
ok(rc == 0 and os.path.exists(smp) and not os.path.exists(smp + ".w0"),
   "run with --samples exits 0; the workers' parts are merged into FILE", err)
j = json.load(open(jpath))
rc2, recs, err2 = rows(smp)
ok(rc2 == 0 and len(recs) == 6000, "one record per request (%d)" % len(recs), err2)
okrecs = [r for r in recs if r["outcome"] == "ok"]
lat = j["histograms"]["latency"]
ok(len(okrecs) == lat["count"] == j["totals"]["requests"]["completed"],
   "answered records = the report's latency count (%d, %d)" % (len(okrecs), lat["count"]))
rc3, sout, serr = surge("samples", smp, "--latency")
rch, hout, _ = surge("--help")
ok(rch == 0 and "--latency" in hout[hout.find("  samples"):],
   "surge --help names surge samples' --latency, as the README's command list does")
ok(rc3 == 0 and table(sout) and table(sout) == table(out),
   "surge samples --latency prints the report's latency table exactly", serr)
vals = sorted(int(r["latency_ns"]) for r in okrecs)
bad = []
for p, v in lat["percentiles"].items():
    # The rank HdrHistogram takes: p% of the count, up to the next whole
    # one, forgiving the last bit of rounding (99.9 / 100 * 6000 is not 5994).
    fp = float(p) / 100 * len(vals)
    exact = vals[max(0, math.ceil(fp - math.ulp(fp)) - 1)]
    # HdrHistogram reports the highest value equivalent to the sample's
    # bucket: 3 significant digits (2048 sub-buckets), never below it.
    if not (exact <= v <= exact + exact / 1000 + 1):
        bad.append((p, exact, v))
ok(vals and not bad, "every percentile is its exact sample's bucket (%s)" % bad)
srcs = {(r["src"], r["src_port"]) for r in recs}
conns = {(r["worker"], r["conn"]) for r in recs}
ok(len(srcs) == 6 and len(conns) == 6 and all(r["src"] == "127.0.0.1" for r in recs),
   "records name 6 connections by id and by source address and port (%d, %d)"
   % (len(srcs), len(conns)))
ok(all(r["dest"] == "127.0.0.1:%d" % srv.port and r["bytes_out"] == "40"
       and r["bytes_in"] == "40" for r in okrecs)
   and all(int(r["intended_ns"]) <= int(r["sent_ns"]) <= int(r["done_ns"]) for r in okrecs),
   "destination, bytes and intended <= sent <= answered in every record")

# --samples FILE.csv writes CSV itself, the same lines surge samples --csv
# prints.
csvpath = smp + ".csv"
srv = Serve("echo")
scn = write_scenario(ECHO % (srv.port, ""))
rc, out, err = surge("run", scn, "-n", "300", "-w", "2", "--samples", csvpath, "-q")
srv.stop()
lines = open(csvpath).read().splitlines() if os.path.exists(csvpath) else []
ok(rc == 0 and len(lines) == 301 and lines[0].startswith("intended_ns,sent_ns,done_ns,latency_ns")
   and not os.path.exists(csvpath + ".bin"),
   "--samples FILE.csv: a header and 300 CSV lines (%d lines)" % len(lines), err)

# Open model, every = 10 in the scenario's table form: 1 in 10 of each
# worker's requests, from its first.
srv = Serve("echo")
scn = write_scenario(ECHO % (srv.port, 'samples = { file = "%s", every = 10 },'
                             % (os.path.join(os.path.dirname(smp), "every.bin"))))
rc, out, err = surge("run", scn, "-n", "2001", "-w", "2", "-r", "20k", "-q")
srv.stop()
rc2, recs, err2 = rows(os.path.join(os.path.dirname(smp), "every.bin"))
# Shares 1001 and 1000: ceil(1001/10) + ceil(1000/10).
ok(rc == 0 and rc2 == 0 and len(recs) == 101 + 100,
   "every = 10: %d records of 2001 requests (want 201)" % len(recs), err + err2)
ok(all(int(r["intended_ns"]) <= int(r["sent_ns"]) for r in recs),
   "open model: intended times from the schedule, sends at or after them")

# Faults: dropped answers time out, and each request's record carries the
# class the report counts it under.
srv = Serve("echo", "--drop", "2%")
scn = write_scenario(ECHO % (srv.port, 'timeout = "300ms", duration = "2s",'))
rc, out, err = surge("run", scn, "-w", "1", "-r", "2000", "--samples", smp, "--json", jpath,
                     "-q")
srv.stop()
j = json.load(open(jpath))
rc2, recs, err2 = rows(smp)
by = {}
for r in recs:
    by[r["outcome"]] = by.get(r["outcome"], 0) + 1
tot = j["totals"]
timeouts = tot["errors"]["by_class"]["request_timeout"]
ok(rc == 0 and timeouts > 0 and by.get("request_timeout") == timeouts,
   "request timeouts: records %s = report %d" % (by.get("request_timeout"), timeouts), err)
ok(by.get("ok") == tot["requests"]["completed"]
   and by.get("unfinished", 0) == tot["requests"]["unfinished"]
   and len(recs) == tot["requests"]["sent"],
   "answered, unfinished and all records agree with the report (%s, %s)" % (by, tot["requests"]))

# A file that cannot grow (a file size limit standing in for a full disk):
# sampling stops with a warning, the run completes with its full counts.
srv = Serve("echo")
scn = write_scenario(ECHO % (srv.port, ""))


def small_files():
    resource.setrlimit(resource.RLIMIT_FSIZE, (200000, 200000))


import subprocess  # noqa: E402
from tap import SURGE  # noqa: E402
p = subprocess.run([SURGE, "run", scn, "-n", "20000", "-w", "1", "--samples", smp + ".full",
                    "--json", jpath], capture_output=True, text=True, timeout=120,
                   preexec_fn=small_files)
srv.stop()
j = json.load(open(jpath)) if os.path.exists(jpath) else {}
ok(p.returncode == 0 and "sampling stopped" in p.stderr and "the run goes on" in p.stderr,
   "a samples file that cannot grow: a warning, exit 0", p.stderr)
ok(j.get("totals", {}).get("requests", {}).get("completed") == 20000,
   "... and the run's counts are whole", j.get("totals"))
rc2, recs, err2 = rows(smp + ".full" if os.path.getsize(smp + ".full") else smp + ".full.w0")
ok(rc2 == 0 and 0 < len(recs) < 20000, "what was written before reads back (%d records)"
   % len(recs), err2)

# The protocol's status: DNS rcodes through surge.status, one per answer,
# agreeing with the report's dns.rcode counters.
from tap import ROOT  # noqa: E402
DNS = """
local dns = require "surge.proto.dns"
return { target = "%s://127.0.0.1:%d", connections = %d, duration = "%s", rate = %d,
  timeout = "%s", protocol = dns.%s }
"""


def dns_run(serve_args, scheme, conns, dur, rate, timeout, proto):
    """A DNS run with --samples against surge serve dns: its report, its
    records, and the scenario's path."""
    srv = Serve("dns", *serve_args, workers=1)
    queries = os.path.join(ROOT, "scenarios", "data", "queries.txt")
    scn = write_scenario(DNS % (scheme, srv.port, conns, dur, rate, timeout,
                                proto % queries))
    rc, out, err = surge("run", scn, "-w", "1", "--samples", smp, "--json", jpath, "-q")
    srv.stop()
    rc2, recs, err2 = rows(smp)
    return rc, json.load(open(jpath)), recs, err + err2, scn


rc, j, recs, err, scn = dns_run((), "tcp", 4, "1s", 500, "5s",
                                'tcp { queries = "%s", pipeline = 2 }')
st = {}
for r in recs:
    st[r["status"]] = st.get(r["status"], 0) + 1
cn = j.get("counters", {})
ok(rc == 0 and st.get("0") == cn.get("dns.rcode.NOERROR") and st.get("3") == cn.get("dns.rcode.NXDOMAIN")
   and st.get("3", 0) > 0 and sum(st.values()) == len(recs) == j["totals"]["requests"]["sent"],
   "DNS: status 0 / 3 in the records = the report's NOERROR %s / NXDOMAIN %s (%s)"
   % (cn.get("dns.rcode.NOERROR"), cn.get("dns.rcode.NXDOMAIN"), st), err)

# Over UDP a lost datagram's request times out on its own socket: it has
# its record too (it once had none: 82 of 400 requests missing).
rc, j, recs, err, scn = dns_run(("--drop", "20%"), "udp", 2, "2s", 200, "50ms",
                                'udp { queries = "%s" }')
oc = {}
for r in recs:
    oc[r["outcome"]] = oc.get(r["outcome"], 0) + 1
t = j["totals"]
ok(rc == 0 and len(recs) == t["requests"]["sent"] == 400 and
   oc.get("ok") == t["requests"]["completed"] and
   oc.get("request_timeout") == t["errors"]["by_class"]["request_timeout"] > 0,
   "UDP: a record for each of the 400 requests, timeouts among them (%s)" % oc, err)

rc, out, err = surge("samples", scn)
ok(rc == 1 and "not a surge samples file" in err, "a file of another kind is refused", err)

# Where the samples go: by the reports' rules. A symlink is followed and
# kept, a FIFO or a device is written into and never replaced (it once
# became a regular file, and a FIFO hung the run before any traffic).
import stat  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
d = tempfile.mkdtemp(prefix="surge-samples-dest-")
srv = Serve("echo")
scn = write_scenario(ECHO % (srv.port, ""))


tmpdir = os.path.join(d, "tmp")
os.mkdir(tmpdir)
env = dict(os.environ, TMPDIR=tmpdir)


def sample_run(path, *more):
    return surge("run", scn, "-n", "200", "-w", "2", "--samples", path, "-q", *more, timeout=20,
                 env=env)


target, link = os.path.join(d, "target.smp"), os.path.join(d, "link.smp")
open(target, "w").close()
os.symlink("target.smp", link)
rc, out, err = sample_run(link)
rc2, recs, err2 = rows(target)
ok(rc == 0 and os.path.islink(link) and rc2 == 0 and len(recs) == 200,
   "a symlink at FILE: the samples go to the file it names, the link is kept (%d records)"
   % len(recs), err + err2)
ok(sorted(os.listdir(d)) == ["link.smp", "target.smp", "tmp"], "no parts left", os.listdir(d))

fifo = os.path.join(d, "pipe.smp")
os.mkfifo(fifo)
got = []


def reader():
    with open(fifo, "rb") as f:
        got.append(f.read())


th = threading.Thread(target=reader, daemon=True)
th.start()
rc, out, err = sample_run(fifo)
th.join(10)
copy = os.path.join(d, "from-fifo.smp")
open(copy, "wb").write(got[0] if got else b"")
rc2, recs, err2 = rows(copy)
ok(rc == 0 and stat.S_ISFIFO(os.lstat(fifo).st_mode) and rc2 == 0 and len(recs) == 200,
   "a FIFO at FILE: the samples are written into it whole (%d records), the FIFO stays"
   % len(recs), err + err2)
ok(os.listdir(tmpdir) == [], "... and the parts' temp directory is gone", os.listdir(tmpdir))

null = os.path.join(d, "null")
try:
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    rc, out, err = sample_run(null)
    ok(rc == 0 and stat.S_ISCHR(os.lstat(null).st_mode),
       "--samples to a null device: written into, still a character device", err)
except OSError as e:
    diag("no mknod here (%s): the device check is skipped" % e)

rc, out, err = sample_run(d)
ok(rc == 2 and "Is a directory" in err and "before any traffic" in err,
   "--samples to a directory: exit 2 before any traffic, says so", err)

# A run refused after the check (exit 4: no such local address) leaves an
# existing samples file as it was: the check only looks.
keep = os.path.join(d, "keep.smp")
open(keep, "wb").write(open(target, "rb").read())
before = os.path.getsize(keep)
rc, out, err = sample_run(keep, "--bind", "10.255.255.1")
ok(rc == 4 and os.path.getsize(keep) == before > 0,
   "a refused run (exit %d) leaves the samples file whole (%d of %d bytes)"
   % (rc, os.path.getsize(keep), before), err)

rc, out, err = surge("samples", d)
ok(rc == 1 and "Is a directory" in err and "Input/output error" not in err,
   "surge samples DIR: says it is a directory", err)

# A report to the samples file would replace one with the other: refused.
os.chdir(d)
for a, b in (("same.smp", "same.smp"), ("same.smp", "./same.smp")):
    rc, out, err = sample_run(a, "--json", b)
    ok(rc == 2 and "both be written" in err and not os.path.exists("same.smp"),
       "--samples %s --json %s: exit 2, nothing written" % (a, b), err)
srv.stop()
done()
