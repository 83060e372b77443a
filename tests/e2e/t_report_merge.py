#!/usr/bin/env python3
"""surge report merges shards exactly: two runs (as two machines' shards)
merged equal the sum of their counts, and their merged percentiles equal
what hdr-histogram-js computes from both logs added."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, Serve, done, ok, surge, write_scenario, diag  # noqa: E402
import reports  # noqa: E402

SCN = """local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 4, rate = %d, duration = "2s" }
"""
d = reports.scratch()
srv = Serve("echo", "--delay", "1ms")
logs, docs = [], []
for k, rate in enumerate((1000, 2500)):
    hl, js = os.path.join(d, "shard%d.hlog" % k), os.path.join(d, "shard%d.json" % k)
    rc, out, err = surge("run", write_scenario(SCN % (srv.port, rate)), "-w", "1", "-q",
                         "--hlog", hl, "--json", js)
    ok(rc == 0, "shard %d ran" % k, err)
    logs.append(hl)
    docs.append(reports.load(js))
srv.stop()

mj, mh = os.path.join(d, "merged.json"), os.path.join(d, "merged.hlog")
rc, out, err = surge("report", *logs, "--json", mj, "--hlog", mh, "-q")
ok(rc == 0, "surge report merges two logs", err)
m = reports.load(mj)
ok(reports.validate(m) is None, "merged JSON validates")
for tag in ("latency", "service", "connect"):
    ok(m["histograms"][tag]["count"] == sum(x["histograms"][tag]["count"] for x in docs),
       "%s: merged count is the sum" % tag)
    ok(m["histograms"][tag]["max"] == max(x["histograms"][tag]["max"] for x in docs),
       "%s: merged max is the larger" % tag)
for k in ("sent", "completed", "intended"):
    ok(m["totals"]["requests"][k] == sum(x["totals"]["requests"][k] for x in docs),
       "totals.requests.%s add" % k)
ok(m["run"]["sources"] == logs, "sources list both logs")
ok(m["series"][0]["completed"] == sum(x["series"][0]["completed"] for x in docs),
   "second 0 of both shards added")
if reports.node_modules() and reports.have("node"):
    dec = reports.hdr_decode(*logs)
    for tag in ("latency", "service", "connect"):
        ok(dec[tag]["percentiles"] == m["histograms"][tag]["percentiles"],
           "%s: merged percentiles == hdr-histogram-js adding both logs" % tag,
           "js %s\nsurge %s" % (dec[tag]["percentiles"], m["histograms"][tag]["percentiles"]))
    dec2 = reports.hdr_decode(mh)
    ok(dec2["latency"]["percentiles"] == m["histograms"]["latency"]["percentiles"],
       "the merged log reads the same in hdr-histogram-js")
else:
    diag("hdr-histogram-js not installed (make node-deps)")
    ok(False, "hdr-histogram-js available")
rc, out, err = surge("report", mh, "--json", os.path.join(d, "again.json"), "-q")
again = reports.load(os.path.join(d, "again.json"))
ok(rc == 0 and again["histograms"] == m["histograms"], "the merged log re-renders identically")

# Per-source rows travel in the log: a run's table re-renders as it was, two
# runs from the same --bind add up address by address, and logs of different
# sets are not added by position (their rows are left out, with a note).
srv = Serve("echo")
bound = []
for k, bind in enumerate(("127.0.7.1-127.0.7.4", "127.0.7.1-127.0.7.4", "127.0.8.1-127.0.8.2")):
    hl, js = os.path.join(d, "bound%d.hlog" % k), os.path.join(d, "bound%d.json" % k)
    rc, out, err = surge("run", write_scenario(SCN % (srv.port, 500)), "-w", "2", "-q",
                         "--bind", bind, "--hlog", hl, "--json", js)
    bound.append((hl, reports.load(js)["addresses"]["sources"]))
srv.stop()
rj = os.path.join(d, "bound-again.json")
rc, out, err = surge("report", bound[0][0], "--json", rj)
ok(rc == 0 and reports.load(rj)["addresses"]["sources"] == bound[0][1] and len(bound[0][1]) == 4,
   "a --bind run's per-source rows re-render from its log (%s)" % bound[0][1], out + err)
ok("127.0.7.4" in out, "... in the text report too", out)
rc, out, err = surge("report", bound[0][0], bound[1][0], "--json", rj, "-q")
want = [{"address": a["address"], "connections": a["connections"] + b["connections"],
         "completed": a["completed"] + b["completed"]} for a, b in zip(bound[0][1], bound[1][1])]
ok(rc == 0 and reports.load(rj)["addresses"]["sources"] == want,
   "two runs from the same sources: rows add address by address", reports.load(rj)["addresses"])
rc, out, err = surge("report", bound[0][0], bound[2][0], "--json", rj)
ok(rc == 0 and reports.load(rj)["addresses"]["sources"] == [] and
   "different --bind sets; per-source rows are left out" in err and "127.0.7.1" not in out,
   "different source sets: rows left out, with a note", out + err)
# A worker's second the coordinator could not merge (malformed, or out of
# memory) is in no number; the run's log says how many, and every report of
# it, alone or merged, says the totals miss them and exits 1.
def with_unmerged(src, n, name):
    text = open(src).read()
    at = text.index("#surge-param workers_lost")
    out = os.path.join(d, name)
    with open(out, "w") as f:
        f.write(text[:at] + "#surge-param seconds_unmerged %s\n" % n + text[at:])
    return out


u2 = with_unmerged(logs[0], 2, "unmerged2.hlog")
u1 = with_unmerged(logs[1], 1, "unmerged1.hlog")
uj = os.path.join(d, "unmerged.json")
rc, out, err = surge("report", u2, "--json", uj)
ok(rc == 1 and reports.load(uj)["run"]["seconds_unmerged"] == 2 and
   "INCOMPLETE  2 worker-seconds could not be merged" in out,
   "a log with 2 unmerged seconds: exit 1, said in the text and the JSON", out + err)
ok(reports.validate(reports.load(uj)) is None, "... and the JSON validates")
rc, out, err = surge("report", u2, u1, logs[0], "--json", uj, "-q")
ok(rc == 1 and reports.load(uj)["run"]["seconds_unmerged"] == 3,
   "merged logs: their unmerged seconds add (2 + 1 + 0)", err)
rc, out, err = surge("report", logs[0], "--json", uj, "-q")
ok(rc == 0 and reports.load(uj)["run"]["seconds_unmerged"] == 0, "a whole log: 0, exit 0", err)
bad = with_unmerged(logs[0], "-1", "unmerged-bad.hlog")
rc, out, err = surge("report", bad, "-q")
ok(rc != 0 and "unmerged-bad.hlog: #surge-param seconds_unmerged -1: want a count" in err,
   "a malformed count is refused, naming the log", err)

# A log cut between a second's histograms and its counts (a copy taken while
# the run wrote it, a full disk): that second is left out whole, so counts
# and latencies agree and the rate is over the seconds kept; said, exit 1
# unless --partial. The same tail in a log still being written (elapsed_s 0)
# is only a note.
lines = open(logs[0]).read().splitlines(True)
at = next(i for i, x in enumerate(lines) if x.startswith("#surge-interval 1.000"))
cut = os.path.join(d, "cut.hlog")
with open(cut, "w") as f:
    f.writelines(lines[:at])
cj = os.path.join(d, "cut.json")
rc, out, err = surge("report", cut, "--json", cj, "-q")
c = reports.load(cj)
ok(rc == 1 and "cut.hlog: the second at 1.000 s has latencies but no #surge-interval counts "
   "(the log was cut short): it is left out" in err,
   "a cut log: exit 1, the log and the second named", err)
ok(c["histograms"]["latency"]["count"] == c["totals"]["requests"]["completed"] ==
   docs[0]["series"][0]["completed"] > 0,
   "... its latency count is its completed count, second 0's",
   (c["histograms"]["latency"]["count"], c["totals"]["requests"]["completed"]))
ok(c["run"]["elapsed_s"] == 1 and
   abs(c["totals"]["throughput_per_s"] - c["totals"]["requests"]["completed"]) < 1e-6,
   "... the throughput is over the 1 s kept, not the 2 s the log says",
   (c["run"]["elapsed_s"], c["totals"]["throughput_per_s"]))
ok(reports.validate(c) is None, "... and the JSON validates")
rc, out, err = surge("report", cut, "--partial", "-q")
ok(rc == 0 and "left out" in err, "--partial accepts a cut log (still said)", err)
rc, out, err = surge("report", cut, logs[1], "--json", cj, "-q")
c = reports.load(cj)
ok(rc == 1 and c["histograms"]["latency"]["count"] == c["totals"]["requests"]["completed"],
   "merged with a whole log: counts and latencies still agree, exit 1", err)
live = os.path.join(d, "live.hlog")
with open(live, "w") as f:
    f.writelines(x if not x.startswith("#surge-param elapsed_s ") else "#surge-param elapsed_s 0\n"
                 for x in lines[:at])
rc, out, err = surge("report", live, "--json", cj, "-q")
c = reports.load(cj)
ok(rc == 0 and "live.hlog is still being written: its last second (at 1.000 s) is not whole "
   "yet" in err and c["histograms"]["latency"]["count"] == c["totals"]["requests"]["completed"],
   "a live log's unfinished last second: left out with a note, exit 0", err)

# A log written whole says so: its header counts the seconds that follow and
# its last line is #surge-end. Read as it is, nothing is cut.
text = open(logs[0]).read()
nsec = len(re.findall(r"^#surge-interval ", text, re.M))
ok(text.endswith("\n#surge-end ended_by=duration\n") and
   "\n#surge-param seconds %d\n" % nsec in text and nsec >= 2,
   "a whole log: '#surge-param seconds %d' in its header, #surge-end its last line" % nsec)
rc, out, err = surge("report", logs[0], "--json", cj, "-q")
c = reports.load(cj)
ok(rc == 0 and "cut" not in err and c["run"].get("seconds_cut") == 0 and c["run"].get("logs_cut") == [],
   "... read whole: exit 0, nothing said, seconds_cut 0 and logs_cut [] in the JSON", err)

# Cut exactly at a second's boundary (a full disk, a machine that died):
# every line it has is whole, yet it lacks its end. Detected, said, exit 1
# unless --partial; the JSON counts the seconds it lacks, exactly.
at1 = next(i for i, x in enumerate(lines) if x.startswith("#surge-interval 0.000")) + 1
edge = os.path.join(d, "edge.hlog")
with open(edge, "w") as f:
    f.writelines(lines[:at1])
rc, out, err = surge("report", edge, "--json", cj, "-q")
c = reports.load(cj)
ok(rc == 1 and "edge.hlog was cut short at 1.000 s: it ends without its #surge-end line (%d of "
   "its %d seconds missing)" % (nsec - 1, nsec) in err,
   "cut at a second's boundary: exit 1, the log, where and how much named", err)
ok(c["run"].get("seconds_cut") == nsec - 1 and c["run"].get("logs_cut") ==
   [{"log": edge, "kind": "short", "from_s": 1, "seconds": nsec - 1, "exact": True}],
   "... in the JSON: seconds_cut %d, the log in logs_cut" % (nsec - 1), c["run"])
ok(c["run"]["elapsed_s"] == 1 and c["histograms"]["latency"]["count"] ==
   c["totals"]["requests"]["completed"] == docs[0]["series"][0]["completed"],
   "... its numbers are those of the second it holds", c["run"]["elapsed_s"])
ok(reports.validate(c) is None, "... and the JSON validates", reports.validate(c))
rc, out, err = surge("report", edge, "--partial", "--json", cj, "-q")
ok(rc == 0 and "cut short" in err and reports.load(cj)["run"].get("seconds_cut") == nsec - 1,
   "--partial accepts it (still said, still in the JSON)", err)

# The earlier cut inside a second: the JSON says what it lacks too.
rc, out, err = surge("report", cut, "--json", cj, "-q", "--partial")
c = reports.load(cj)
ok(c["run"].get("seconds_cut") == nsec - 1 and c["run"].get("logs_cut") ==
   [{"log": cut, "kind": "short", "from_s": 1, "seconds": nsec - 1, "exact": True}],
   "cut inside a second: seconds_cut %d in the JSON" % (nsec - 1), c["run"])

# Logs of a surge that wrote no end line (nor the count) are judged by the
# elapsed time their header names: whole when they reach it.
def older(src, name):
    out = os.path.join(d, name)
    with open(out, "w") as f:
        f.writelines(x for x in src if not x.startswith(("#surge-param seconds ", "#surge-end")))
    return out


rc, out, err = surge("report", older(lines, "older.hlog"), "--json", cj, "-q")
ok(rc == 0 and reports.load(cj)["run"].get("logs_cut") == [] and "cut" not in err,
   "an older surge's whole log: whole", err)
rc, out, err = surge("report", older(lines[:at1], "older-edge.hlog"), "--json", cj, "-q")
c = reports.load(cj)
ok(rc == 1 and "older-edge.hlog was cut short at 1.000 s: it ends before the 2 s its run took "
   "(at least 1 second missing)" in err and c["run"].get("logs_cut", [{}])[0].get("exact") is False,
   "an older log cut at a boundary: found by its elapsed time, at least 1 second", err)

# A merge written with --partial of a cut log records what it lacks, so
# reading the merge again is not taken for whole.
mcut = os.path.join(d, "merged-cut.hlog")
rc, out, err = surge("report", edge, logs[1], "--partial", "--hlog", mcut, "-q")
ok(rc == 0 and "\n#surge-param seconds_cut %d\n" % (nsec - 1) in open(mcut).read(),
   "a --partial merge records the seconds its cut log lacked", err)
rc, out, err = surge("report", mcut, "--json", cj, "-q")
c = reports.load(cj)
ok(rc == 1 and "merged-cut.hlog merged logs that were cut short" in err and
   c["run"].get("seconds_cut") == nsec - 1 and c["run"].get("logs_cut", [{}])[0].get("kind") == "merge",
   "... read again: said, exit 1, in the JSON", err)
ok(reports.validate(c) is None, "... and the JSON validates", reports.validate(c))

# A live log (elapsed_s 0, no count: the run writes it as it goes) is still
# being written while it changes; still for a minute, its run left it
# behind (killed, its machine or disk failed) and it is a cut.
left = os.path.join(d, "left.hlog")
with open(left, "w") as f:
    f.writelines("#surge-param elapsed_s 0\n" if x.startswith("#surge-param elapsed_s ") else x
                 for x in lines[:at1] if not x.startswith("#surge-param seconds "))
rc, out, err = surge("report", left, "--json", cj, "-q")
c = reports.load(cj)
ok(rc == 0 and "note: %s is still being written: the report covers its first 1.000 s" % left
   in err and c["run"].get("seconds_cut") == 0 and c["run"].get("logs_cut", [{}])[0].get("kind") == "live",
   "a live log just written, at a boundary: a note, exit 0, kind live", err)
then = time.time() - 120
os.utime(left, (then, then))
rc, out, err = surge("report", left, "--json", cj, "-q")
c = reports.load(cj)
ok(rc == 1 and "left.hlog was being written as its run went and has not changed for 120 s: its "
   "run stopped 1.000 s in without writing its whole log" in err,
   "still for 2 minutes: left behind by its run, exit 1", err)
# What its run would have measured after it stopped is unknown (a duration is
# an upper bound): no second is counted that the log does not show lost.
ok(c["run"].get("logs_cut") == [{"log": left, "kind": "left", "from_s": 1, "seconds": 0,
                             "exact": False}] and c["run"].get("seconds_cut") == 0,
   "... in the JSON: kind left, none counted lost, not exact", c["run"])
rc, out, err = surge("report", left, "--partial", "-q")
ok(rc == 0 and "without writing its whole log" in err, "... --partial accepts it", err)

# An open-model run and a closed one run later, merged: intended counts only
# the open run's requests, so achieved must too (not the closed run's tens of
# thousands a second over the open run's 1000/s); their seconds are overlaid
# from each start, so the connections asked add up as the open ones do.
CLOSED = """local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 4, duration = "2s" }
"""
srv = Serve("echo")
closed, cjs = os.path.join(d, "closed.hlog"), os.path.join(d, "closed.json")
# shorter than the open run: a merge takes as long as its longest log
rc, out, err = surge("run", write_scenario(CLOSED % srv.port), "-w", "1", "-q", "--hlog", closed,
                     "--json", cjs, "-d", "1s")
srv.stop()
ok(rc == 0, "a closed-model run", err)
cl = reports.load(cjs)
mix = os.path.join(d, "mixed.json")
times = []
for order in ((logs[0], closed), (closed, logs[0])):
    rc, out, err = surge("report", *order, "--json", mix)
    m = reports.load(mix)
    times.append((m["run"]["elapsed_s"], m["totals"]["throughput_per_s"]))
    want = docs[0]["totals"]["requests"]["sent"] / docs[0]["totals"]["requests"]["intended"]
    ok(rc == 0 and "the logs mix open-model runs (%s, ...) and closed-model runs (%s, ...)" %
       (logs[0], closed) in err and abs(m["totals"]["rate_achieved"] - want) < 1e-9,
       "open + closed (%s first): achieved is the open run's sent over its intended (%.4f)" %
       (os.path.basename(order[0]), want), (m["totals"]["rate_achieved"], err))
    ach = "achieved %.1f/s (%.2f%%)" % (docs[0]["totals"]["requests"]["sent"] / m["run"]["elapsed_s"],
                                        100 * want)
    ok(ach in out and "open and closed model" in out and "open-model logs' requests only" in out,
       "... the text says it: %s" % ach, out)
    ok("separate runs" in out and "up to 8 connections" in out and
       m["totals"]["connections"]["peak_open"] <= 8,
       "... and asks the connections of both (4 + 4), as many as can be open at once", out)
    ok(m["totals"]["requests"]["sent"] == docs[0]["totals"]["requests"]["sent"] +
       cl["totals"]["requests"]["sent"], "... while sent still counts both runs")
longest = max(docs[0]["run"]["elapsed_s"], cl["run"]["elapsed_s"])
ok(times[0] == times[1] and abs(times[0][0] - longest) < 1e-6,
   "the merge took as long as its longest log whatever their order (elapsed_s, throughput: %s; "
   "longest %.3f s)" % (times, longest))

# Runs of different schedules (1000/s for 2 s, 500/s for 3 s) against two
# targets, one after another and side by side: their schedules add as
# functions of time from each start (1500/s to 2 s, then 500/s: the 3500
# requests both intended), not the first log's alone, and the header, like
# the JSON, names both targets.
srv_a, srv_b = Serve("echo"), Serve("echo")
ta, tb = "tcp://127.0.0.1:%d" % srv_a.port, "tcp://127.0.0.1:%d" % srv_b.port
want_segs = [{"from_s": 0, "to_s": 2, "from": 1500, "to": 1500},
             {"from_s": 2, "to_s": 3, "from": 500, "to": 500}]


def runs(tag, together):
    args = [(ta, "1000", "2s"), (tb, "500", "3s")]
    hls = [os.path.join(d, "%s%d.hlog" % (tag, k)) for k in (1, 2)]
    cmds = [[SURGE, "run", t, "-r", r, "-c", "4", "-w", "1", "-d", dur, "-q", "--hlog", h]
            for (t, r, dur), h in zip(args, hls)]
    if together:
        ps = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in cmds]
        rcs = [p.wait(timeout=60) for p in ps]
    else:
        rcs = [subprocess.run(c, capture_output=True, timeout=60).returncode for c in cmds]
    ok(rcs == [0, 0], "%s: two runs of different schedules and targets" % tag, rcs)
    return hls


for tag, together, label in (("apart", False, "separate runs"), ("side", True, "run together")):
    hls = runs(tag, together)
    for order in (hls, hls[::-1]):
        mj = os.path.join(d, tag + "-merged.json")
        rc, out, err = surge("report", *order, "--json", mj)
        m = reports.load(mj)
        rate = m["run"]["rate"] or {}
        intended = m["totals"]["requests"]["intended"]
        planned = sum((s["from"] + s["to"]) / 2 * (s["to_s"] - s["from_s"])
                      for s in rate.get("segments", []))
        ok(rc == 0 and rate.get("segments") == want_segs and rate.get("peak") == 1500 and
           planned == intended == 3500 and "first log" not in err,
           "%s (%s first): the rate is both schedules added, 1500/s to 2 s then 500/s: the "
           "3500 intended" % (tag, os.path.basename(order[0])), (rate, intended, err))
        head = out.splitlines()[0] if out else ""
        ok(label in head and "asked connections and rate added" in head and ta in head and
           tb in head and ta in m["run"]["target"] and tb in m["run"]["target"] and
           sorted(m["run"]["destinations"]) == sorted([ta[6:], tb[6:]]),
           "... said as %s, naming both targets (header and JSON)" % label,
           (head, m["run"]["target"], m["run"]["destinations"]))
srv_a.stop()
srv_b.stop()

# A value missing at the end of the line is said as such, not as an
# unknown option.
for opt in ("--json", "--html", "--hlog", "--threshold"):
    rc, out, err = surge("report", logs[0], opt)
    ok(rc == 2 and "surge report: option '%s' needs a value" % opt in err,
       "surge report LOG %s: exit 2, the value is missing" % opt, err)
adir = os.path.join(d, "adir.hlog")
os.mkdir(adir)
rc, out, err = surge("report", adir)
ok(rc == 1 and "is a directory" in err and "read error" not in err,
   "surge report DIR: says it is a directory", err)
rc, out, err = surge("report", logs[0], "--nope")
ok(rc == 2 and "unknown option '--nope'" in err, "an unknown option is still unknown", err)
done()
