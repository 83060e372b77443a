#!/usr/bin/env python3
"""--shard K/N: N shards of a scenario are exactly one run between them.

Three shards started together (--start-at +TIME@FILE) against one echo
server: their requests (sent, intended) and connections sum exactly to one
unsharded run's schedule (a rate ramp, Poisson arrivals, requests = N), their
bind addresses are disjoint, surge report merges them into percentiles equal
to hdr-histogram-js adding every shard's log, names missing and doubled
shards, judges the scenario's thresholds on the merge (exit 3), and not on a
shard alone unless asked. --shard auto reads each scheduler's variables;
bad values are usage errors (exit 2)."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, Serve, diag, done, ok, surge, write_scenario  # noqa: E402
import reports  # noqa: E402

SCN = """local echo = require "surge.proto.echo"
local ramp = require "surge.ramp"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 7, rate = ramp.stages { {"1s", 200, 900}, {"1s", 900} },
         arrival = "%s", duration = "2s", bind = "127.0.9.1-127.0.9.6",
         thresholds = { throughput = "< 600", ["latency.p99"] = "< 2s" } }
"""
d = reports.scratch()


def edited(src, name, old, new):
    """A copy of log src, named name in d, with old (which must be there) made new."""
    with open(src) as f:
        text = f.read()
    assert old in text, old
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    return path


srv = Serve("echo")


def shards(scn, n, tag, extra=()):
    """Runs n shards at once, started together; returns [(rc, json, hlog, stderr)]."""
    start = os.path.join(d, tag + ".start")
    procs = []
    for k in range(1, n + 1):
        js, hl = os.path.join(d, "%s-%d.json" % (tag, k)), os.path.join(d, "%s-%d.hlog" % (tag, k))
        p = subprocess.Popen([SURGE, "run", scn, "--shard", "%d/%d" % (k, n), "-w", "2", "-q",
                              "--start-at", "+2s@" + start, "--json", js, "--hlog", hl] +
                             list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        procs.append((p, js, hl))
    out = []
    for p, js, hl in procs:
        _, err = p.communicate(timeout=60)
        out.append((p.returncode, reports.load(js) if os.path.exists(js) else None, hl, err))
    return out


for arrival in ("uniform", "poisson"):
    scn = write_scenario(SCN % (srv.port, arrival))
    rc, out, err = surge("run", scn, "-w", "2", "-q", "--json", os.path.join(d, "whole.json"),
                         "--hlog", os.path.join(d, "whole.hlog"))
    whole = reports.load(os.path.join(d, "whole.json"))
    runs = shards(scn, 3, arrival)
    docs = [r[1] for r in runs]
    ok(all(r[0] == 0 for r in runs) and all(docs),
       "%s: 3 shards ran, exit 0 though throughput < 600 fails nowhere and latency holds" % arrival,
       "\n".join(r[3] for r in runs))
    if not all(docs):
        continue
    # intended is the schedule itself: exact. Each shard takes all of its
    # share (sent or, on a machine too busy, dropped from the backlog).
    got = [x["totals"]["requests"]["intended"] for x in docs]
    ok(sum(got) == whole["totals"]["requests"]["intended"],
       "%s: shards' intended %s sum to one run's %d" % (arrival, got,
                                                       whole["totals"]["requests"]["intended"]))
    taken = [x["totals"]["requests"]["sent"] + x["totals"]["requests"]["dropped"] for x in docs]
    ok(taken == got, "%s: each shard sent (or dropped) its whole share %s" % (arrival, taken))
    ok(sum(taken) == whole["totals"]["requests"]["sent"] + whole["totals"]["requests"]["dropped"],
       "%s: sent + dropped sum to one run's" % arrival)
    ok(sorted(x["run"]["connections"] for x in docs) == [2, 2, 3] and
       sum(x["totals"]["connections"]["peak_open"] for x in docs) == 7,
       "%s: 7 connections split 3+2+2 and all held" % arrival,
       [(x["run"]["connections"], x["totals"]["connections"]["peak_open"]) for x in docs])
    ok(all(reports.validate(x) is None for x in docs), "%s: the shards' JSON validates" % arrival,
       [reports.validate(x) for x in docs])
    ok([x["run"]["shard"]["index"] for x in docs] == [1, 2, 3] and
       all(x["run"]["shard"]["count"] == 3 for x in docs), "%s: each JSON records its shard" % arrival)
    starts = set(x["run"]["start_time"] for x in docs)
    ok(len(starts) == 1 and docs[0]["run"]["start_at"] == docs[0]["run"]["start_time"],
       "%s: every shard started at the agreed instant (%s)" % (arrival, starts))
    # Sources: each shard its own pair of the six addresses.
    used = [set(a["address"] for a in x["addresses"]["sources"] if a["connections"] > 0)
            for x in docs]
    ok(used == [{"127.0.9.1", "127.0.9.2"}, {"127.0.9.3", "127.0.9.4"},
                {"127.0.9.5", "127.0.9.6"}],
       "%s: shard k binds only its own slice of the sources" % arrival, used)

    logs = [r[2] for r in runs]
    mj = os.path.join(d, arrival + "-merged.json")
    rc, out, err = surge("report", *logs, "--json", mj)
    m = reports.load(mj)
    ok(rc == 3, "%s: the merge fails the scenario's throughput < 600 (exit 3)" % arrival, out + err)
    ok("shards: 3 of 3" in out and "up to 7 connections" in out,
       "%s: the merge asks what the shards asked together" % arrival, out)
    ok(reports.validate(m) is None and m["run"]["shards"] == {"count": 3, "missing": [],
                                                             "doubled": []},
       "%s: the merged JSON validates and read all 3 shards" % arrival)
    ok(m["run"]["connections"] == 7 and
       abs(m["run"]["rate"]["peak"] - 900) < 1e-6, "%s: merged JSON: 7 connections, peak 900/s"
       % arrival, m["run"]["connections"])
    ok(m["totals"]["requests"]["intended"] == whole["totals"]["requests"]["intended"],
       "%s: merged intended equals one run's" % arrival)
    for key in ("sent", "completed", "dropped"):
        ok(m["totals"]["requests"][key] == sum(x["totals"]["requests"][key] for x in docs),
           "%s: merged %s is the shards' sum" % (arrival, key))
    if reports.node_modules() and reports.have("node"):
        dec = reports.hdr_decode(*logs)
        for tag in ("latency", "service"):
            ok(dec[tag]["percentiles"] == m["histograms"][tag]["percentiles"] and
               dec[tag]["count"] == m["histograms"][tag]["count"],
               "%s: merged %s percentiles == hdr-histogram-js over every shard's samples"
               % (arrival, tag))
    else:
        ok(False, "hdr-histogram-js available (make node-deps)")

    if arrival == "uniform":
        pj = os.path.join(d, "partial.json")
        rc, out, err = surge("report", logs[0], logs[2], "-q", "--json", pj)
        ok(rc == 1 and "1 of 3 shards missing: 2/3" in err,
           "a missing shard is named (exit 1)", err)
        ok(reports.load(pj)["run"]["shards"] == {"count": 3, "missing": [2], "doubled": []} and
           reports.validate(reports.load(pj)) is None, "... and in the JSON (run.shards)",
           reports.load(pj)["run"].get("shards"))
        rc, out, err = surge("report", logs[0], logs[1], logs[1], logs[2], "-q", "--json", pj)
        ok("shard 2/3 is in 2 logs" in err and
           reports.load(pj)["run"]["shards"]["doubled"] == [2],
           "a doubled shard is named with its logs", err)
        rc, out, err = surge("report", logs[0], logs[2], "--partial", "-q", "--threshold",
                             "latency.p99<5s")
        # throughput < 600 still fails on 2 of 3 shards? 2/3 of 900/s peak: ~405/s, passes.
        ok(rc == 0, "--partial: missing shards are not an error", err)
        rc, out, err = surge("report", logs[0], os.path.join(d, "whole.hlog"), "-q")
        ok(rc == 1 and "was not run with --shard" in err,
           "a shard merged with a log of an unsharded run is refused", err)
        with open(logs[1]) as f:
            text = f.read()
        broken = os.path.join(d, "broken.hlog")
        with open(broken, "w") as f:
            f.write(text.replace("#surge-param shard 2/3", "#surge-param shard 2/x"))
        rc, out, err = surge("report", logs[0], broken, logs[2], "-q")
        ok(rc == 1 and "expected K/N, got '2/x'" in err, "a shard parameter that does not read "
           "is named", err)
        other = shards(scn, 3, "other")
        rc, out, err = surge("report", logs[0], other[1][2], logs[2], "-q")
        ok(rc == 1 and "shards of different runs" in err,
           "shards of two runs (another start) are not merged", err)
        # Shard 3 run again later, without --start-at and shorter: another
        # run, named, exit 1; --partial takes missing shards, not another
        # run's. It was merged as "shards: 3 of 3", exit 0.
        rerun = os.path.join(d, "rerun-3.hlog")
        rc, out, err = surge("run", scn, "--shard", "3/3", "-w", "2", "-q", "-d", "1s", "--hlog",
                             rerun)
        rc, out, err = surge("report", logs[0], logs[1], rerun)
        ok(rc == 1 and "rerun-3.hlog (shard 3/3) is from another run than %s (shard 1/3) and 1 "
           "other log" % logs[0] in err and "another duration" in err and "shards: 3" not in out,
           "a shard run again later with -d 1s is named as another run's (exit 1)", out + err)
        rc, out, err = surge("report", logs[0], logs[1], rerun, "--partial", "-q")
        ok(rc == 1 and "rerun-3.hlog (shard 3/3) is from another run" in err,
           "--partial does not merge it either", err)
        rc, out, err = surge("run", scn, "--shard", "3/3", "-w", "2", "-q", "--hlog", rerun)
        rc, out, err = surge("report", rerun, logs[1], logs[0], "-q")
        ok(rc == 1 and "rerun-3.hlog (shard 3/3) is from another run" in err and
           "without --start-at" in err, "the same duration without --start-at: another start",
           err)
        # Started together without --start-at: one run, their StartTimes
        # within the spread a scheduler and each shard's set-up give.
        ps = [subprocess.Popen([SURGE, "run", scn, "--shard", "%d/3" % k, "-w", "2", "-q",
                                "--hlog", os.path.join(d, "nostart-%d.hlog" % k)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in (1, 2, 3)]
        for p in ps:
            p.communicate(timeout=60)
        nostart = [os.path.join(d, "nostart-%d.hlog" % k) for k in (1, 2, 3)]
        rc, out, err = surge("report", *nostart)
        ok(rc == 3 and "shards: 3 of 3" in out, "shards started together without --start-at "
           "merge as one run (exit 3: the scenario's throughput threshold)", out + err)

        with open(nostart[1]) as f:
            t0 = float(re.search(r"#\[StartTime: ([0-9.]+)", f.read()).group(1))
        late = edited(nostart[1], "late-2.hlog", "%.3f" % t0, "%.3f" % (t0 + 60))
        rc, out, err = surge("report", nostart[0], late, nostart[2], "-q")
        # Apart from whichever log it is compared with first: 60 s and the
        # shards' own spread (tenths of a second).
        ok(rc == 1 and "late-2.hlog (shard 2/3) is from another run" in err and
           re.search(r"\b(59|60|61)\.\d s apart", err),
           "a shard that began 60 s after the others is another run's", err)
        after = edited(nostart[1], "after-2.hlog", "%.3f" % t0, "%.3f" % (t0 + 3))
        rc, out, err = surge("report", nostart[0], after, nostart[2], "-q")
        ok(rc == 1 and "after-2.hlog (shard 2/3) is from another run" in err and
           "the other's 2 s had ended" in err,
           "one that began 3 s later, after the others' 2 s, is another run's too", err)
        # Each within the 2 s of the first log named, but 3 s apart from
        # each other: one ran after the other had ended. Checked against
        # the first log alone, they merged.
        ts = []
        for path in nostart:
            with open(path) as f:
                ts.append(float(re.search(r"#\[StartTime: ([0-9.]+)", f.read()).group(1)))
        early = edited(nostart[1], "early-2.hlog", "%.3f" % ts[1], "%.3f" % (ts[0] - 1.5))
        later = edited(nostart[2], "later-3.hlog", "%.3f" % ts[2], "%.3f" % (ts[0] + 1.5))
        rc, out, err = surge("report", nostart[0], early, later, "-q")
        ok(rc == 1 and "early-2.hlog (shard 2/3) and " in err and "later-3.hlog (shard 3/3) are "
           "shards of different runs" in err and "3.0 s apart" in err,
           "shards 1.5 s before and after the first log, 3 s apart, are not one 2 s run", err)
        with open(nostart[2]) as f:
            sc = re.search(r"#surge-param scenario (.*)", f.read()).group(1)
        other_scn = edited(nostart[2], "scn-3.hlog", "#surge-param scenario " + sc,
                           "#surge-param scenario /elsewhere/other.lua")
        rc, out, err = surge("report", nostart[0], nostart[1], other_scn, "-q")
        ok(rc == 1 and "another scenario" in err and "other.lua" in err,
           "a shard of another scenario is another run's", err)
        moved = edited(nostart[2], "moved-3.hlog", "#surge-param scenario " + sc,
                       "#surge-param scenario /elsewhere/" + os.path.basename(sc))
        rc, out, err = surge("report", nostart[0], nostart[1], moved, "-q")
        ok(rc == 3, "the same scenario kept in another folder is the same run", err)
        # One shard judged alone, when asked.
        r = shards(scn, 3, "judge", ["--threshold", "throughput<200", "--shard-thresholds"])
        ok([x[0] for x in r] == [3, 3, 3], "--shard-thresholds: each shard judges itself (exit 3)",
           [x[0] for x in r])
        r = shards(scn, 3, "nojudge", ["--threshold", "throughput<200"])
        ok([x[0] for x in r] == [0, 0, 0] and "judged on the merge" in r[0][3],
           "without it a shard's failing threshold is a note, exit 0", r[0][3])

# requests = N: a shard's log read alone (or some of the shards, --partial)
# was to send their shares of N, not N; all of them together, N. The report
# of one shard once said "all 1000 requests sent" of its 334.
count = write_scenario('''local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 6, duration = "5s" }
''' % srv.port)
runs = shards(count, 3, "count", ["-n", "1000"])
logs = [x[2] for x in runs]
ok([x[0] for x in runs] == [0, 0, 0] and
   [x[1]["totals"]["requests"]["sent"] for x in runs] == [334, 333, 333],
   "-n 1000 over 3 shards: 334 + 333 + 333 sent", [x[3] for x in runs])
rc, out, err = surge("report", logs[0])
ok(rc == 1 and "ended       by the count: all 334 requests (shard 1/3's share of 1000) sent" in out,
   "surge report of shard 1/3 alone: its 334 of the 1000", out + err)
rc, out, err = surge("report", logs[1], logs[2], "--partial")
ok(rc == 0 and "by the count: all 666 requests (the share of the 2 of 3 shards read, of 1000) "
   "sent" in out, "shards 2 and 3, --partial: their 666", out + err)
rc, out, err = surge("report", *logs)
ok(rc == 0 and "by the count: all 1000 requests sent" in out, "all 3: the 1000", out + err)

# A shard stopped by an abort threshold (judged on its own share): the
# merge says it stopped early, whichever log is named first. It was read
# from the first log only: "Ran 3.00 s" with shard 1 first.
from tap import free_port  # noqa: E402
abort = write_scenario('''local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 }, connections = 2,
         rate = 200, duration = "3s", thresholds = { ["errors.count"] = { "< 1", abort = true } } }
''' % srv.port)
start = os.path.join(d, "abort.start")
ps = [subprocess.Popen([SURGE, "run", abort, "--shard", "%d/2" % k, "-w", "1", "-q",
                        "--shard-thresholds", "--start-at", "+2s@" + start, "--hlog",
                        os.path.join(d, "abort-%d.hlog" % k)] +
                       (["-o", "target=tcp://127.0.0.1:%d" % free_port()] if k == 2 else []),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in (1, 2)]
for p in ps:
    p.communicate(timeout=60)
logs = [os.path.join(d, "abort-%d.hlog" % k) for k in (1, 2)]
ok([p.returncode for p in ps] == [0, 3], "shard 2/2, its target refused, stops on its threshold "
   "(exit 3); shard 1 runs its 3 s", [p.returncode for p in ps])
for order in (logs, logs[::-1]):
    mj = os.path.join(d, "abort-merge.json")
    rc, out, err = surge("report", *order, "--json", mj)
    m = reports.load(mj)
    ok(rc == 3 and "Stopped by a threshold" in out and m["run"]["ended_by"] == "threshold" and
       (m["outcome"]["aborted"] or {}).get("metric") == "errors.count",
       "merged with %s first: stopped by a threshold, outcome.aborted names it"
       % os.path.basename(order[0]), out + err)

# A shard stopped by Ctrl-C while the other sends its share of -n: the
# merge was interrupted, not ended by the count, whichever log is named
# first. Both were read from the first log only: with shard 1 first the
# merge said "ended by the count", interrupted false.
import signal  # noqa: E402
paced = write_scenario('''local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 }, connections = 2,
         rate = 200, duration = "10s" }
''' % srv.port)
start = os.path.join(d, "sigint.start")
logs = [os.path.join(d, "sigint-%d.hlog" % k) for k in (1, 2)]
ps = [subprocess.Popen([SURGE, "run", paced, "--shard", "%d/2" % k, "-n", "500", "-w", "1", "-q",
                        "--start-at", "+2s@" + start, "--hlog", logs[k - 1]],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in (1, 2)]
t0, give_up = None, time.time() + 10
while t0 is None and time.time() < give_up:
    try:
        with open(start) as f:
            t0 = float(f.read())
    except (OSError, ValueError):
        time.sleep(0.05)
# Each shard sends 250 at 100/s: shard 2 is stopped 1 s into its 2.5 s.
time.sleep(max(0, (t0 or time.time()) + 1 - time.time()))
ps[1].send_signal(signal.SIGINT)
for p in ps:
    p.communicate(timeout=60)
ok([p.returncode for p in ps] == [0, 130], "-n 500 over 2 shards: shard 1/2 sends its 250 (exit 0), "
   "shard 2/2 is stopped by Ctrl-C (exit 130)", [p.returncode for p in ps])


def merged(order):
    mj = os.path.join(d, "sigint-merge.json")
    rc, out, err = surge("report", *order, "--json", mj)
    return rc, out, err, reports.load(mj) if os.path.exists(mj) else {"run": {}}


rcs = []
for order in (logs, logs[::-1]):
    rc, out, err, m = merged(order)
    rcs.append(rc)
    ok(m["run"].get("interrupted") is True and m["run"].get("ended_by") == "interrupted" and
       "Interrupted after" in out and "by the count" not in out,
       "merged with %s first: interrupted, not ended by the count" % os.path.basename(order[0]),
       out + err)
ok(rcs[0] == rcs[1], "... and exits alike in both orders (%s)" % rcs, rcs)
# Had shard 2 run to its duration instead, the count did not end the run.
durn = edited(logs[1], "durn-2.hlog", "#surge-end ended_by=interrupted",
                       "#surge-end ended_by=duration")
durn = edited(durn, "durn-2.hlog", "#surge-param interrupted 1",
                       "#surge-param interrupted 0")
for order in ([logs[0], durn], [durn, logs[0]]):
    rc, out, err, m = merged(order)
    ok(m["run"].get("interrupted") is False and m["run"].get("ended_by") == "duration" and
       "by the count" not in out,
       "merged with %s first: ended by the duration, not the count" % os.path.basename(order[0]),
       out + err)
# Had it given up (no connection), the merge gave up, at the earliest.
gave = edited(durn, "gave-2.hlog", "#surge-end ended_by=duration",
                       "#surge-end ended_by=unreachable")
gave = edited(gave, "gave-2.hlog", "#surge-param interrupted 0",
                       "#surge-param interrupted 0\n#surge-param unreachable_s 7 3")
gave1 = edited(logs[0], "gave-1.hlog", "#surge-end ended_by=requests",
                        "#surge-end ended_by=unreachable")
gave1 = edited(gave1, "gave-1.hlog", "#surge-param interrupted 0",
                        "#surge-param interrupted 0\n#surge-param unreachable_s 9 4")
for order in ([logs[0], gave], [gave, logs[0]], [gave1, gave], [gave, gave1]):
    rc, out, err, m = merged(order)
    ok(rc == 1 and m["run"].get("ended_by") == "unreachable" and
       "gave up at 7 s: no connection open for 3 s" in out,
       "merged with %s first: gave up at 7 s (exit 1)" % os.path.basename(order[0]), out + err)

# Runs started together without --shard add up what they asked too.
closed = write_scenario('''local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 3, rate = 100, duration = "2s" }
''' % srv.port)
ps = [subprocess.Popen([SURGE, "run", closed, "-w", "1", "-q", "--hlog",
                        os.path.join(d, "together-%d.hlog" % i)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE) for i in (1, 2)]
for p in ps:
    p.communicate(timeout=60)
rc, out, err = surge("report", os.path.join(d, "together-1.hlog"), os.path.join(d, "together-2.hlog"))
ok(rc == 0 and "run together" in out and "up to 6 connections" in out,
   "two runs started together add their connections (3 + 3)", out + err)
rc, out, err = surge("report", os.path.join(d, "together-1.hlog"), os.path.join(d, "whole.hlog"))
# Their seconds are overlaid from each start (open connections add), so what
# they asked adds too: 3 + 7, not the first log's 3 next to a peak of 10.
ok(rc == 0 and "run together" not in out and "separate runs" in out and
   "up to 10 connections" in out,
   "runs one after another add their connections too (3 + 7), said as separate runs", out + err)
srv.stop()

# Ports: one shared source, 12 ports, 3 shards -> disjoint slices of 4.
scn = write_scenario(SCN % (srv.port, "uniform"))
slices = []
for k in (1, 2, 3):
    rc, out, err = surge("doctor", scn, "--shard", "%d/3" % k, "--bind", "127.0.9.1",
                         "--ports", "40000-40011")
    line = [x for x in out.splitlines() if "shard ports:" in x]
    slices.append(line[0].split("shard ports:")[1].strip() if line else None)
ok(slices == ["40000-40003", "40004-40007", "40008-40011"],
   "shards sharing one source take disjoint port slices (doctor --shard)", slices)
rc, out, err = surge("doctor", scn, "--shard", "2/3")
ok(rc == 0 and "shard 2 of 3: 2 of the run's 7 connections" in out and
   "2 of the 6 bind addresses (127.0.9.3 ... 127.0.9.4)" in out,
   "doctor --shard plans one machine's share", out + err)
rc, out, err = surge("run", scn, "--shard", "4/3")
ok(rc == 2 and "--shard 4/3" in err, "--shard 4/3 is a usage error (exit 2)", err)
rc, out, err = surge("run", scn, "--shard", "2")
ok(rc == 2 and "expected K/N" in err, "--shard 2 is a usage error", err)
# The plan counts the sources a shard binds: shard 1 of 4 binds 2 of the 8
# addresses, so its 5000 connections (2500 a worker, on 500 ports each) put
# 1250 on a pair: refused before any traffic, as the same load unsharded is
# (-c 5000 from 2 addresses). It once planned 313 a pair over all 8.
fat = write_scenario('''local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 20000, duration = "1s",
         bind = { "127.0.4.1-127.0.4.8", pick = "round-robin" } }
''' % srv.port)
rc, out, err = surge("doctor", fat, "--shard", "1/4", "--ports", "40000-40999", "-w", "2", timeout=60)
ok(rc == 4 and "1250 connections fall on one (source, destination) pair of 500 ports" in out and
   "give --bind at least 20 addresses (5 for each of the 4 shards)" in out,
   "doctor --shard: a shard's 2 of 8 sources do not fit (exit 4), with the --bind that does",
   out[-1500:] + err)
rc, out, err = surge("run", fat, "--shard", "1/4", "--ports", "40000-40999", "-w", "2", "-q",
                     timeout=60)
ok(rc == 4 and "shard 1/4: 5000 connections to 1 destination need ≥ 5 source addresses" in err,
   "run --shard: refused before traffic (exit 4)", err)
rc, out, err = surge("run", fat, "-c", "5000", "--bind", "127.0.4.1-127.0.4.2", "--ports",
                     "40000-40999", "-w", "2", "-q", timeout=60)
ok(rc == 4 and "1250 connections fall on one" in err, "as the same load without --shard", err)
rc, out, err = surge("doctor", fat, "--shard", "1/4", "--ports", "40000-40999", "-w", "2",
                     "--bind", "127.0.4.1-127.0.4.20", timeout=60)
ok(rc == 0 and "sources     5 IPv4" in out, "with 20 addresses the shard binds 5 and fits",
   out[-1500:] + err)

# pick = "permutation" binds every address of the set in every shard (its
# walk is split by position, not by address): each shard's machine must have
# them all. 127.0.4.1 is always local; 198.18.1.2 (benchmarking space) is not
# configured here. Shard 1/2's slice would be 127.0.4.1 alone, and was all
# that was checked: the run then failed its connects from 198.18.1.2.
import socket  # noqa: E402
try:
    with socket.socket() as probe:
        probe.bind(("198.18.1.2", 0))
    here = True
except OSError:
    here = False
if here:
    diag("198.18.1.2 is bindable on this machine: the permutation check is not tried")
else:
    perm = write_scenario('''local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 40, duration = "1s",
         bind = { "127.0.4.1, 198.18.1.2", pick = "%s" } }
''' % (srv.port, "permutation"))
    rc, out, err = surge("doctor", perm, "--shard", "1/2", timeout=60)
    ok(rc == 4 and "198.18.1.2" in out and "2 of the 2 bind addresses" in out,
       "doctor --shard, permutation: every address must be here, 198.18.1.2 is not (exit 4)",
       out[-1500:] + err)
    rc, out, err = surge("run", perm, "--shard", "1/2", "-q", timeout=60)
    ok(rc == 4 and "not configured on this machine: 198.18.1.2" in err,
       "run --shard, permutation: refused before traffic (exit 4), as without --shard", err)
    with open(perm) as f:
        rr = write_scenario(f.read().replace('"permutation"', '"round-robin"'))
    rc, out, err = surge("doctor", rr, "--shard", "1/2", timeout=60)
    ok(rc == 0 and "1 of the 2 bind addresses (127.0.4.1)" in out,
       "round-robin: shard 1/2 binds only its slice, 127.0.4.1, which is here", out[-1500:] + err)

closed = write_scenario('''local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 2, duration = "1s" }
''' % srv.port)
rc, out, err = surge("run", closed, "--shard", "3/3")
ok(rc == 2 and "2 connections over 3 shards leave shard 3 none" in err,
   "a closed-model shard left without a connection is refused (exit 2)", err)

# --shard auto: every scheduler's variables.
base = {k: v for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "PARALLEL_", "JOB_COMPLETION", "SURGE_SHARD"))}
cases = [
    ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0"},
     "shard 3 of 3"),
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"},
     "shard 1 of 3"),
    ({"SLURM_PROCID": "1", "SLURM_NTASKS": "3"}, "shard 2 of 3"),
    ({"JOB_COMPLETION_INDEX": "0", "SURGE_SHARD_COUNT": "3"}, "shard 1 of 3"),
    ({"PARALLEL_SEQ": "3", "SURGE_SHARD_COUNT": "3"}, "shard 3 of 3"),
]
for env, want in cases:
    p = subprocess.run([SURGE, "doctor", scn, "--shard", "auto"], capture_output=True, text=True,
                       env=dict(base, **env), timeout=60)
    ok(p.returncode == 0 and want in p.stdout, "--shard auto from %s: %s" % (env, want),
       p.stdout[-400:] + p.stderr)
bad = [
    ({}, "no scheduler said"),
    ({"JOB_COMPLETION_INDEX": "1"}, "set SURGE_SHARD_COUNT"),
    ({"PARALLEL_SEQ": "4", "SURGE_SHARD_COUNT": "3"}, "not a shard"),
    ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "3"}, "contiguous array"),
]
for env, want in bad:
    p = subprocess.run([SURGE, "run", scn, "--shard", "auto"], capture_output=True, text=True,
                       env=dict(base, **env), timeout=60)
    ok(p.returncode == 2 and want in p.stderr, "--shard auto with %s: exit 2, says '%s'"
       % (env, want), p.stderr)

# --start-at: a start file left by an earlier run is refused, not joined.
stale = os.path.join(d, "stale.start")
with open(stale, "w") as f:
    f.write("%.3f\n" % (time.time() - 60))
rc, out, err = surge("run", scn, "--shard", "1/3", "--start-at", "+1s@" + stale)
ok(rc == 2 and "delete it" in err, "a stale start file is refused (exit 2)", err)
rc, out, err = surge("run", scn, "--start-at", "12")
ok(rc == 2 and "ago" in err, "--start-at in the past is refused", err)
rc, out, err = surge("run", scn, "--start-at", "soon")
ok(rc == 2 and "epoch seconds" in err, "--start-at soon is a usage error", err)
done()
