#!/usr/bin/env python3
"""surge report of a run's own --hlog says what the run said: its JSON equals
the run's in every field the log carries (how the run ended, the threshold
that stopped it and which were marked abort, the count of -n, start and the
connect phase, transport, TLS), its text report is the run's, and it exits
with the run's exit code (one that measured nothing exits 1). Logs of an older surge, without those parameters,
still read as they did."""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, done, ok, surge, write_scenario  # noqa: E402
import reports  # noqa: E402

# What legitimately differs between a run's JSON and its log's report, and why.
ALLOWED = [
    # The logs the report read (a run reads none).
    (r"^/run/sources(/|$)", "the logs read"),
    # Where each threshold was written: the report took it from the log (a
    # --threshold given to surge report says "--threshold").
    (r"^/thresholds/\d+/where$", "recorded in LOG"),
]


def diff(a, b, path=""):
    """[(path, run's, report's)] where the two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            p = path + "/" + k
            if k not in b and isinstance(a[k], dict) and a[k].get("count") == 0 and \
                    path == "/histograms":
                continue  # a histogram that recorded nothing: a log carries samples, not names
            if k not in a or k not in b:
                out.append((p, a.get(k, "<absent>"), b.get(k, "<absent>")))
            else:
                out += diff(a[k], b[k], p)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [x for i, (u, v) in enumerate(zip(a, b)) for x in diff(u, v, "%s/%d" % (path, i))]
    return [] if a == b else [(path, a, b)]


def unexpected(a, b):
    return [d for d in diff(a, b) if not any(re.search(rx, d[0]) for rx, _ in ALLOWED)]


def body(text):
    """The text report after its first line (the run's header or the report's
    'surge report: N logs' line), each threshold's 'where' left out."""
    lines = text.split("\n", 1)[1] if "\n" in text else ""
    return re.sub(r"^(\s+(?:ok|FAIL)\s.*\()[^,)]*", r"\1WHERE", lines, flags=re.M)


d = reports.scratch()


def same(name, run_args, want_rc, text_has=()):
    """Runs surge run RUN_ARGS with --json and --hlog, then surge report of the
    log, and compares: the JSON field by field, the text, the exit codes."""
    js, hl = os.path.join(d, name + ".json"), os.path.join(d, name + ".hlog")
    rj = os.path.join(d, name + "-report.json")
    rc, out, err = surge("run", *run_args, "--no-progress", "--json", js, "--hlog", hl, timeout=60)
    ok(rc == want_rc, "%s: the run exits %d (%s)" % (name, want_rc, rc), out + err)
    run = reports.load(js)
    rrc, rout, rerr = surge("report", hl, "--json", rj, timeout=60)
    rep = reports.load(rj)
    bad = unexpected(run, rep)
    ok(not bad, "%s: surge report's JSON is the run's in every field the log carries" % name,
       "\n".join("%s: run %r, report %r" % x for x in bad))
    ok(rrc == rc and rep["outcome"]["exit_code"] == run["outcome"]["exit_code"] == rc,
       "%s: surge report exits as the run did (%s, run %s)" % (name, rrc, rc), rerr)
    ok(body(rout) == body(out) and all(t in rout for t in text_has),
       "%s: its text report is the run's (%s)" % (name, ", ".join(text_has) or "whole"),
       "run:\n%s\nreport:\n%s" % (out, rout))
    ok(reports.validate(rep) is None, "%s: the report's JSON validates" % name,
       reports.validate(rep))
    return hl, run, rep


# A run a threshold stopped: ended_by threshold, outcome.aborted, which
# thresholds abort (and from when), all from the log.
srv = Serve("echo", "--delay", "20ms")
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 2, rate = 200, duration = "5s",
         thresholds = { ["errors.rate"] = { "< 1%%", abort = true, abort_after = "3s" } } }
""" % srv.port)
hl, run, rep = same("aborted", [scn, "--threshold-abort", "latency.p50<10ms"], 3,
                    ("Stopped by a threshold after", "(abort is set)"))
ok(rep["run"]["ended_by"] == "threshold" and rep["outcome"]["aborted"] and
   rep["outcome"]["aborted"]["metric"] == "latency.p50" and
   [(t["metric"], t["abort"], t["abort_after_s"]) for t in rep["thresholds"]] ==
   [("errors.rate", True, 3), ("latency.p50", True, 0)],
   "... ended_by threshold, outcome.aborted latency.p50, both thresholds abort (3 s, 0 s)",
   (rep["run"]["ended_by"], rep["outcome"]["aborted"], rep["thresholds"]))
ok(open(hl).read().endswith("\n#surge-end ended_by=threshold\n"), "... its log ends so")

# The report's own --hlog carries the same again.
again, aj = os.path.join(d, "again.hlog"), os.path.join(d, "again.json")
surge("report", hl, "--hlog", again, "-q")
rc, out, err = surge("report", again, "--json", aj, "-q")
bad = unexpected(rep, reports.load(aj))
ok(rc == 3 and not bad, "a report's --hlog read again: the same report, exit 3",
   "\n".join("%s: %r, %r" % x for x in bad) + err)

# Logs of an older surge lack these parameters: read as before (the run
# ended by its duration as far as they say, traffic started at once).
NEW = ("requests", "duration_unbounded", "transport", "start", "connect_phase_s", "tls",
       "threshold_abort", "aborted")
old = os.path.join(d, "older.hlog")
with open(old, "w") as f:
    f.writelines(x for x in open(hl) if not x.startswith(tuple("#surge-param %s " % k for k in NEW)))
rc, out, err = surge("report", old, "--json", aj, "-q")
o = reports.load(aj)
ok(rc == 3 and o["run"]["ended_by"] == "duration" and o["outcome"]["aborted"] is None and
   o["run"]["start"] == "now" and o["run"]["connect_phase_s"] == 0 and
   not any(t["abort"] for t in o["thresholds"]) and o["run"]["transport"] == "tcp" and
   reports.validate(o) is None,
   "an older surge's log: read as before (duration, not aborted, start now), exit 3 on its "
   "failed threshold", (rc, o["run"], err))
srv.stop()

# -n: the count, ended by it, the duration unbounded; a closed-model run.
srv = Serve("echo")
same("requests", ["tcp://127.0.0.1:%d" % srv.port, "-n", "300", "-c", "2"], 0,
     ("ended       by the count: all 300 requests sent",))
srv.stop()

# TLS (not verified: said in the text and the JSON).
srv = Serve("echo", "--tls")
same("tls", ["tls://127.0.0.1:%d" % srv.port, "--insecure", "-c", "2", "-d", "1s"], 0,
     ("certificates NOT verified",))
srv.stop()

# UDP: transport udp.
srv = Serve("dns")
udp = write_scenario("""
local dns = require "surge.proto.dns"
return { target = "udp://127.0.0.1:%d", protocol = dns.udp { queries = { "example.com A" } },
         connections = 2, rate = 100, duration = "1s" }
""" % srv.port)
_, run, rep = same("udp", [udp], 0)
ok(rep["run"]["transport"] == "udp", "... transport udp")
srv.stop()

# A run that measured nothing (every connect refused) exits 1: so does the
# report of its log, saying why as the run did.
hold = socket.socket()
hold.bind(("127.0.0.1", 0))  # bound, never listening: every connect is refused
dead = "tcp://127.0.0.1:%d" % hold.getsockname()[1]
hl, run, rep = same("dead", [dead, "-r", "1000", "-c", "20", "-d", "2s"], 1)
rc, out, err = surge("report", hl, "-q")
ok(rc == 1 and "nothing was measured: no connection to %s could be opened (connection refused"
   % dead in err, "... and says why, as the run did", err)
hold.close()
done()
