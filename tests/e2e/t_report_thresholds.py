#!/usr/bin/env python3
# surge-test: alone (tests/run): judges the achieved rate
"""Thresholds: a passing set exits 0, a failing one exits 3 and says which;
one marked abort stops the run at the first whole second it fails (past its
abort_after) and the report says when and why; bad thresholds stop the run
before traffic with exit 2 and name file:line or --threshold."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import tempfile

from tap import Serve, done, ok, parse_report, surge, write_scenario  # noqa: E402

SCN = """local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%d",
  protocol = echo.new { size = 16 },
  connections = 4,
  rate = 1000,
  duration = "2s",
  thresholds = {
    %s
  },
}
"""

srv = Serve("echo", "--delay", "2ms")
good = write_scenario(SCN % (srv.port, '["latency.p50"] = "> 1ms",\n    ["errors.rate"] = "< 0.1%",\n'
                             '    ["rate.achieved"] = "> 99%",'))
rc, out, err = surge("run", good, "-w", "1", "--no-progress")
ok(rc == 0, "every threshold holds: exit 0", out + err)
ok("thresholds  3 of 3 passed" in out, "the report lists them", out)

rc, out, err = surge("run", good, "-w", "1", "--threshold", "latency.p50<1ms", "--no-progress")
ok(rc == 3, "a 2 ms server fails latency.p50<1ms: exit 3", out + err)
ok("thresholds  3 of 4 passed" in out and "FAIL  latency.p50 < 1ms" in out,
   "the failing one is marked, with where it came from", out)
# Under -q no report is printed: a CI log still says which failed and why.
hl = os.path.join(tempfile.mkdtemp(), "q.hlog")
rc, out, err = surge("run", good, "-w", "1", "--threshold", "latency.p50<1ms", "-q", "--hlog", hl)
ok(rc == 3 and out == "" and "surge: threshold failed: latency.p50 < 1ms:" in err and
   "(--threshold)" in err and "errors.rate" not in err,
   "-q: exit 3 and one stderr line for the failed threshold only", out + err)
rc, out, err = surge("report", hl, "-q")
ok(rc == 3 and "surge report: threshold failed: latency.p50 < 1ms:" in err,
   "... and surge report -q of its log says it too", out + err)

# --- names: a threshold on a counter or histogram nobody declares stops the
# run before traffic (exit 2), naming where it was written and the nearest
# declared name; a declared one never counted fails at the end (exit 3);
# dynamic families (http.status.NNN) are accepted.
DECL = """local surge = require "surge"
local lost = surge.counter("app.lost")
surge.histogram("app.first_byte")
""" + SCN
declared = write_scenario(DECL % (srv.port, '["counter.app.lost"] = "> 0",'))
rc, out, err = surge("run", declared, "-w", "1", "-d", "1s", "--no-progress")
ok(rc == 3 and "FAIL  counter.app.lost > 0" in out, "a declared counter never counted fails: exit 3",
   out + err)
rc, out, err = surge("run", good, "-w", "1", "-d", "1s", "--threshold", "counter.http.status.503<1",
                     "--no-progress")
ok(rc == 0, "a name of a dynamic family (http.status.NNN) is accepted", out + err)

js = os.path.join(tempfile.mkdtemp(), "run.json")
typo = write_scenario(DECL % (srv.port, '["counter.app.lsot"] = "> 0",'))
rc, out, err = surge("run", typo, "-w", "1", "--json", js, "--no-progress")
ok(rc == 2 and "%s:12: threshold on 'counter.app.lsot': no counter 'app.lsot' is declared" % typo
   in err and "did you mean 'app.lost'?" in err, "an undeclared counter: exit 2, file:line and "
   "a did-you-mean", err)
ok(not os.path.exists(js) and "completed" not in out, "... before any traffic (no report)", out)
rc, out, err = surge("run", declared, "-w", "1", "--threshold", "app.frist_byte.p99<1ms",
                     "--no-progress")
ok(rc == 2 and "--threshold: threshold on 'app.frist_byte.p99': no histogram 'app.frist_byte'" in err
   and "did you mean 'app.first_byte'?" in err, "an undeclared histogram from --threshold: exit 2",
   err)
rc, out, err = surge("run", good, "-w", "1", "--threshold", "counter.nope>0", "--no-progress")
ok(rc == 2 and "no counter 'nope' is declared" in err and "surge.counter(\"nope\")" in err,
   "the message says how to declare one", err)

# --- abort: a 2 ms server fails p50 < 1ms from the first second; abort_after
# holds the check until 2 s, so a 20 s run stops after exactly 2 s.
aborting = write_scenario((SCN % (srv.port, '["latency.p50"] = { "< 1ms", abort = true, '
                                  'abort_after = "2s" },\n    ["errors.rate"] = "< 1%",'))
                          .replace('"2s"', '"20s"', 1))
jpath = os.path.join(tempfile.mkdtemp(prefix="surge-abort-"), "abort.json")
rc, out, err = surge("run", aborting, "-w", "1", "--no-progress", "--json", jpath)
r = parse_report(out)
ok(rc == 3, "an aborting threshold that fails: exit 3", out + err)
ok("Stopped by a threshold after 2.00 s" in out and
   "stopped at 2 s: latency.p50 < 1ms failed with" in out,
   "the report says it stopped at 2 s (abort_after) and why", out)
ok("surge: stopping at 2s: threshold latency.p50 < 1ms failed" in err, "stderr says so as it stops",
   err)
ok(1500 <= r.get("completed", 0) <= 2600,
   "what ran until the stop is reported: ~2 s at 1000/s (%s)" % r.get("completed"), out)
with open(jpath) as f:
    j = json.load(f)
ab = j["outcome"]["aborted"]
ok(ab and ab["metric"] == "latency.p50" and ab["at_s"] == 2 and ab["actual"] > 1e6
   and j["outcome"]["exit_code"] == 3 and j["run"]["elapsed_s"] == 2,
   "JSON: outcome.aborted names it, at 2 s, with what it measured (%s)" % ab, j["outcome"])
th = {t["metric"]: t for t in j["thresholds"]}
ok(th["latency.p50"]["abort"] and th["latency.p50"]["abort_after_s"] == 2 and
   not th["errors.rate"]["abort"], "JSON: each threshold says whether it aborts", th)

rc, out, err = surge("run", good, "-w", "1", "-d", "2s", "--threshold-abort", "errors.count<1",
                     "--no-progress")
ok(rc == 0 and "stopped at" not in out and "(--threshold-abort, abort)" in out,
   "--threshold-abort that holds: the run goes to the end, exit 0", out + err)

# abort_after at the run's end: said at the start, and never cuts the drain.
late = write_scenario(SCN % (srv.port, '["latency.p50"] = { "< 1ms", abort = true, '
                             'abort_after = "2s" },'))
rc, out, err = surge("run", late, "-w", "1", "--no-progress")
ok(rc == 3 and "it is only checked at the end" in err and "stopped at" not in out
   and "unfinished 0" in out, "abort_after = the duration: a warning, the run ends whole, exit 3",
   out + err)
srv.stop()

# Port 1: nothing listens there (a port a stopped server gave back might be
# taken by another test's server meanwhile).
closed = write_scenario(SCN % (1, '["errors.count"] = { "< 1", abort = true },'))
rc, out, err = surge("run", closed, "-w", "1", "-d", "30s", "--no-progress")
ok(rc == 3 and "stopped at 1 s: errors.count < 1 failed" in out,
   "refused connections fail errors.count < 1 at once: exit 3 though nothing completed", out + err)

rc, out, err = surge("run", good, "-w", "1", "--target",
                     "127.0.0.1:1", "--no-progress")
ok(rc == 1 and "nothing was measured" in err,
   "a dead target with thresholds set: exit 1 and why, not a threshold failure", out + err)

bad = write_scenario(SCN % (1, '["latency.p99"] = { "< 5ms", abort = "yes" },'))
rc, out, err = surge("run", bad)
ok(rc == 2 and "option 'thresholds': expected abort = true or false" in err,
   "abort that is not a boolean: exit 2, named", err)
bad = write_scenario(SCN % (1, '["latency.p99"] = { "< 5ms", abort = true, abort_after = "soon" },'))
rc, out, err = surge("run", bad)
ok(rc == 2 and "abort_after as a duration" in err, "abort_after that is not a duration: exit 2", err)
bad = write_scenario(SCN % (1, '["latency.p99"] = { "< 5ms", [3] = "< 1us" },'))
rc, out, err = surge("run", bad)
ok(rc == 2 and "(latency.p99 has [3])" in err, "a hole in the conditions is an error, not lost", err)
bad = write_scenario(SCN % (1, '["latency.p99"] = { "< 5ms", abrt = true },'))
rc, out, err = surge("run", bad)
ok(rc == 2 and "(latency.p99 has 'abrt')" in err, "a misspelt abort key is named", err)

bad = write_scenario(SCN % (1, '["latency.p99"] = "< 5ms",\n    ["errors.rate"] = "under 1%",'))
rc, out, err = surge("run", bad)
ok(rc == 2, "a bad condition: exit 2 before any traffic", err)
ok("%s:10: threshold on 'errors.rate': expected an operator" % bad in err,
   "names file:line, the metric and what is expected", err)

bad = write_scenario(SCN % (1, '["latency.p99x"] = "< 5ms",'))
rc, out, err = surge("run", bad)
ok(rc == 2 and "%s:9: threshold on 'latency.p99x': unknown metric" % bad in err,
   "an unknown metric names file:line and lists the known ones", err)
for typo, meant in (("errors.reste", "errors.reset"), ("thruput", "throughput"),
                    ("errors.rat", "errors.rate"), ("rate.acheived", "rate.achieved")):
    rc, out, err = surge("run", good, "--threshold", typo + "<1", "-d", "1s")
    ok(rc == 2 and "threshold on '%s': unknown metric; did you mean '%s'?" % (typo, meant) in err,
       "--threshold %s: did you mean %s" % (typo, meant), err)

bad = write_scenario(SCN % (1, '["latency.p99"] = 5,'))
rc, out, err = surge("run", bad)
ok(rc == 2 and "option 'thresholds': latency.p99 has number 5, expected a condition string" in err
   and "got a table" not in err,
   "a number instead of a condition string", err)

rc, out, err = surge("run", good, "--threshold", "latency.p99")
ok(rc == 2 and "--threshold: threshold 'latency.p99': expected METRIC<VALUE" in err,
   "--threshold without an operator: exit 2", err)
rc, out, err = surge("run", good, "--threshold", "latency.p99<5 parsecs")
ok(rc == 2 and "a duration like 5ms" in err, "--threshold with a bad value: exit 2", err)
# k6 writes p(95)<200 for 200 ms; to surge a bare 200 was 200 s, a threshold
# that always passed. A duration needs its unit.
rc, out, err = surge("run", good, "--threshold", "latency.p99<200")
ok(rc == 2 and "'200' has no unit; a duration needs one: 200ms, 200us or 200s" in err,
   "--threshold with a duration without its unit: exit 2, the unit asked for", err)
# A counter's name without its prefix, and a family that cannot count it:
# refused before traffic, not a threshold that always passes.
rc, out, err = surge("run", good, "--threshold", "http.status.5xx<1")
ok(rc == 2 and "a counter is 'counter.http.status.5xx'" in err,
   "a counter named without counter.: the prefix suggested", err)
for name in ("http.status.5XX", "http.status.503x", "http.status.99"):
    rc, out, err = surge("run", good, "--threshold", "counter.%s<1" % name)
    ok(rc == 2 and "no counter '%s' is declared" % name in err,
       "counter.%s: no such HTTP counter (status codes are 3 digits, classes 1xx-5xx)" % name,
       err)
rc, out, err = surge("report", "/nonexistent.hlog", "--threshold", "errors.rate<fast")
ok(rc == 2 and "a percentage like 0.1%" in err, "surge report checks --threshold first: exit 2", err)
# "nothing was measured" says why, and points at errors above only when the
# text report printed some.
ZERO = """
local echo = require "surge.proto.echo"
local ramp = require "surge.ramp"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64 }, connections = 5,
  duration = "1s", timeout = "200ms", rate = %s }
"""
srv = Serve("echo")
zero = write_scenario(ZERO % (srv.port, 'ramp.stages { {"1s", 0} }'))
for q in ((), ("-q",)):
    rc, out, err = surge("run", zero, "-w", "1", "--no-progress", *q)
    ok(rc == 1 and "the schedule asked for no requests" in err and "errors above" not in err,
       "a rate of 0 throughout%s: exit 1, the schedule named, no errors pointed at"
       % (" (-q)" if q else ""), out + err)
srv.stop()
srv = Serve("echo", "--drop", "100%")
mute = write_scenario(ZERO % (srv.port, "100"))
rc, out, err = surge("run", mute, "-w", "1", "--no-progress", "-q")
ok(rc == 1 and "no response completed" in err and "see the errors above" not in err
   and "without -q" in err, "every request timed out under -q: the errors counted, not 'above'",
   out + err)
jpath = mute + ".json"
rc, out, err = surge("run", mute, "-w", "1", "--no-progress", "-q", "--json", jpath)
ok(rc == 1 and "their classes are in %s, totals.errors" % jpath in err and "or with --json" not in err,
   "every request timed out under -q with --json: the hint points at the JSON given", out + err)
rc, out, err = surge("run", mute, "-w", "1", "--no-progress")
ok(rc == 1 and "see the errors above" in err and "request timeout" in out,
   "... and without -q they are above", out + err)
srv.stop()

done()
