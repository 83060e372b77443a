#!/usr/bin/env python3
"""Where report files go (engine/report_files.c): a regular file is replaced
whole through a temp file of a unique name beside it; a FIFO or a character
device is written as it is, never replaced; a symlink is followed and kept;
two reports to one file are refused before any traffic; a failing report
does not cost the others, and says what write() said (ENOSPC, not EIO).
A run stopped by Ctrl-C, or missing a killed worker, still writes its whole
--hlog (never taken for a cut log); a run killed leaves its live --hlog,
which surge report calls still being written, then left behind."""
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, Serve, diag, done, ok, surge, write_scenario  # noqa: E402
import reports  # noqa: E402

srv = Serve("echo")
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 2, rate = 200, duration = "1s" }
""" % srv.port)


def run(*args):
    return surge("run", scn, "-q", "--no-progress", *args)


def is_json(path):
    try:
        with open(path) as f:
            return json.load(f).get("format") == "surge-report"
    except (OSError, ValueError):
        return False


def leftovers(d):
    return [n for n in os.listdir(d) if n.endswith(".tmp")]


d = reports.scratch()

# A regular file is replaced; its mode is kept; no temp file is left.
js = os.path.join(d, "run.json")
with open(js, "w") as f:
    f.write("old")
os.chmod(js, 0o600)
rc, out, err = run("--json", js, "--hlog", os.path.join(d, "run.hlog"))
ok(rc == 0 and is_json(js) and stat.S_IMODE(os.stat(js).st_mode) == 0o600 and not leftovers(d),
   "a regular file is replaced whole, keeps its mode 0600, no temp file left (%s)"
   % leftovers(d), err)

# FILE.tmp, the name the old code wrote through, is no longer followed or in
# the way: a symlink there to a victim, or a directory.
victim = os.path.join(d, "victim")
with open(victim, "w") as f:
    f.write("keep me")
js2 = os.path.join(d, "two.json")
os.symlink(victim, js2 + ".tmp")
os.mkdir(os.path.join(d, "three.json.tmp"))
rc, out, err = run("--json", js2, "--html", os.path.join(d, "three.json"))
ok(rc == 0 and is_json(js2) and open(victim).read() == "keep me" and
   os.path.islink(js2 + ".tmp"),
   "a FILE.tmp symlink is not followed, a FILE.tmp directory not in the way", err)

# A symlink at FILE: the file it names gets the report, the link stays.
target = os.path.join(d, "real.json")
link = os.path.join(d, "latest.json")
os.symlink("real.json", link)
rc, out, err = run("--json", link)
ok(rc == 0 and os.path.islink(link) and is_json(target),
   "a symlink at FILE: the report goes to the file it names, the link is kept", err)
dangling = os.path.join(d, "dangling.json")
os.symlink(os.path.join(d, "nowhere", "x.json"), dangling)
rc, out, err = run("--json", dangling)
ok(rc == 2 and "No such file or directory" in err and "before any traffic" in err,
   "a symlink into a missing directory: exit 2 before any traffic", err)
os.unlink(target)
rc, out, err = run("--json", link)
ok(rc == 0 and os.path.islink(link) and is_json(target),
   "a symlink to a file not there yet: created where the link points", err)

# A FIFO is written into, not replaced.
fifo = os.path.join(d, "pipe.json")
os.mkfifo(fifo)
got = []


def reader():
    with open(fifo) as f:
        got.append(f.read())


th = threading.Thread(target=reader, daemon=True)
th.start()
rc, out, err = run("--json", fifo)
th.join(10)
ok(rc == 0 and stat.S_ISFIFO(os.lstat(fifo).st_mode) and got and
   json.loads(got[0]).get("format") == "surge-report",
   "a FIFO at FILE: the report is written into it, the FIFO stays", err)

# Character devices: our own null and full (mknod, so that nothing under
# /dev is at stake when run as root, where the old code renamed over them).
null, full = os.path.join(d, "null"), os.path.join(d, "full")
try:
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    have_dev = True
except OSError as e:
    have_dev = False
    diag("no mknod here (%s): device checks skipped" % e)
if have_dev:
    rc, out, err = run("--hlog", null)
    ok(rc == 0 and stat.S_ISCHR(os.lstat(null).st_mode),
       "--hlog to a null device: written into, still a character device", err)
    # The full device fails with ENOSPC; the other reports are still written.
    hl, html = os.path.join(d, "after.hlog"), os.path.join(d, "after.html")
    rc, out, err = run("--hlog", hl, "--json", full, "--html", html)
    ok(rc == 1 and "No space left on device" in err and "Input/output error" not in err and
       stat.S_ISCHR(os.lstat(full).st_mode),
       "--json to a full device: exit 1, ENOSPC named (not EIO)", err)
    ok(os.path.getsize(hl) > 0 and os.path.getsize(html) > 0,
       "the reports after and before the failing one are still written", err)
    rc, out, err = run("--json", null, "--html", null)
    ok(rc == 0, "two reports to one null device are harmless: allowed", err)

# Two reports to one file: refused before any traffic, however spelled.
os.chdir(d)
for a, b in (("same.json", "same.json"), ("same.json", "./same.json"),
             ("same.json", os.path.join(d, "same.json"))):
    rc, out, err = run("--json", a, "--html", b)
    ok(rc == 2 and "would both be written to" in err and not os.path.exists("same.json"),
       "--json %s --html %s: exit 2, nothing written" % (a, b), err)
rc, out, err = surge("report", os.path.join(d, "run.hlog"), "--json", "x.json", "--hlog",
                     "./x.json")
ok(rc == 2 and "would both be written to" in err, "surge report refuses it too", err)

# Stopped by a signal, a run still writes its whole log: Ctrl-C is a stop
# on purpose, said as such (ended_by interrupted), never taken for a log cut
# by a failure. Killed (SIGKILL, a machine gone), it leaves the log it wrote
# as it went: still being written at first, then known as left behind.
LONG = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 2, rate = 200, duration = "30s" }
""" % srv.port)


def start_long(hl, *args, **kw):
    """surge run of LONG writing hl, once hl holds seconds 0 and 1."""
    p = subprocess.Popen([SURGE, "run", LONG, "-q", "--no-progress", "--hlog", hl] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    end = time.time() + 20
    while time.time() < end and p.poll() is None:
        if os.path.exists(hl) and "\n#surge-interval 1.000" in open(hl).read():
            break
        time.sleep(0.1)
    return p


sig = os.path.join(d, "sigint.hlog")
p = start_long(sig)
p.send_signal(signal.SIGINT)
_, perr = p.communicate(timeout=60)
text = open(sig).read()
ok(p.returncode == 130 and text.endswith("\n#surge-end ended_by=interrupted\n") and
   "\n#surge-param interrupted 1\n" in text,
   "Ctrl-C: exit 130, the log written whole, its end line says interrupted", perr)
sj = os.path.join(d, "sigint.json")
rc, out, err = surge("report", sig, "--json", sj)
doc = reports.load(sj)
ok(rc == 0 and "Interrupted after" in out and "cut" not in err and "left" not in err,
   "surge report of it: exit 0, 'Interrupted after', no cut said", out + err)
ok(doc["run"]["ended_by"] == "interrupted" and doc["run"]["interrupted"] is True and
   doc["run"].get("seconds_cut") == 0 and doc["run"].get("logs_cut") == [] and
   reports.validate(doc) is None,
   "... its JSON: ended_by interrupted, seconds_cut 0, logs_cut [], valid", doc["run"])

# A worker killed: the others go on and the run writes its whole log,
# naming the loss (workers_lost): not a cut either.
lost = os.path.join(d, "lost.hlog")
p = start_long(lost, "-w", "2")
kids = []
for t in os.listdir("/proc/%d/task" % p.pid):
    with open("/proc/%d/task/%s/children" % (p.pid, t)) as f:
        kids += [int(x) for x in f.read().split()]
os.kill(kids[0], signal.SIGKILL)  # a worker surge started, by its pid
time.sleep(1.5)
p.send_signal(signal.SIGINT)
_, perr = p.communicate(timeout=60)
rc, out, err = surge("report", lost, "--json", sj, "-q")
doc = reports.load(sj)
ok(len(kids) == 2 and open(lost).read().endswith("\n#surge-end ended_by=interrupted\n") and
   "cut" not in err and doc["run"]["workers_lost"] == 1 and doc["run"].get("logs_cut") == [] and
   doc["run"].get("seconds_cut") == 0,
   "a worker killed: the log is whole, workers_lost 1, nothing cut", perr + err)
# The run exited 1 for the lost worker; its report does too, and says why
# (a CI step that merges logs must fail where the run failed).
ok(rc == 1 and "1 worker died during the run" in err and "share is missing (exit 1)" in err,
   "... and its report exits 1, naming the lost worker", "rc=%d %s" % (rc, err))
rc, out, err = surge("report", lost, lost, "--partial", "-q", "--json", sj)
ok(rc == 1 and reports.load(sj)["run"]["workers_lost"] == 2,
   "... merged (twice, --partial): still exit 1, workers_lost 2", "rc=%d %s" % (rc, err))

killed = os.path.join(d, "killed.hlog")
p = start_long(killed, start_new_session=True)
os.killpg(p.pid, signal.SIGKILL)  # surge and its workers: its own process group
p.communicate(timeout=60)
text = open(killed).read()
ok("#surge-end" not in text and "\n#surge-param elapsed_s 0\n" in text,
   "SIGKILL: the live log stays, without its end line")
rc, out, err = surge("report", killed, "--json", sj, "-q")
ok(rc == 0 and "killed.hlog is still being written" in err,
   "read at once: still being written (a note, exit 0)", err)
then = time.time() - 90
os.utime(killed, (then, then))
rc, out, err = surge("report", killed, "--json", sj, "-q")
doc = reports.load(sj)
ok(rc == 1 and "killed.hlog was being written as its run went and has not changed for 90 s" in
   err and "without writing its whole log (surge was killed" in err and
   "what it measured after that is unknown" in err,
   "read when still for a while: its run left it behind, exit 1", err)
cuts = doc["run"].get("logs_cut") or [{}]
ok(len(cuts) == 1 and cuts[0].get("kind") == "left" and cuts[0].get("from_s", 0) >= 2 and
   cuts[0].get("exact") is False and doc["run"].get("seconds_cut") == cuts[0].get("seconds") and
   cuts[0].get("seconds", 99) <= 1 and reports.validate(doc) is None,
   "... in the JSON: kind left, not exact, only the seconds lost inside it (what its run would "
   "have measured after is unknown: its duration is an upper bound)", doc["run"])
rc, out, err = surge("report", killed, "--partial", "-q")
ok(rc == 0, "... --partial accepts it", err)

srv.stop()
# A password in the target URL (rtsp://alice:secret@...) logs in, but no
# report shows it: reports are shared. The user name stays.
srv = Serve("rtsp")
pw = write_scenario("""
local rtsp = require "surge.proto.rtsp"
return { target = "rtsp://alice:s3cr3t@127.0.0.1:%d/live", connections = 2, duration = "1s",
         protocol = rtsp.reader { watch = "500ms" } }
""" % srv.port)
pd = tempfile.mkdtemp(prefix="surge-pw-")
outs = [os.path.join(pd, n) for n in ("r.json", "r.hlog", "r.html")]
rc, out, err = surge("run", pw, "--json", outs[0], "--hlog", outs[1], "--html", outs[2])
srv.stop()
texts = [out, err] + [open(p).read() for p in outs if os.path.exists(p)]
ok(rc == 0 and len(texts) == 5 and not any("s3cr3t" in t for t in texts) and
   "rtsp://alice@127.0.0.1:%d/live" % srv.port in out and
   json.load(open(outs[0]))["run"]["target"] == "rtsp://alice@127.0.0.1:%d/live" % srv.port,
   "a target's password is in no report (text, JSON, hlog, HTML); the user name is", out + err)

# A URL run's path is its target: shown without the password too.
srv = Serve("echo")
url = "tcp://alice:s3cr3t@127.0.0.1:%d" % srv.port
rc, out, err = surge("run", url, "-d", "300ms", "-c", "1", "--json", outs[0], "--hlog", outs[1])
srv.stop()
texts = [out, err, open(outs[0]).read(), open(outs[1]).read()]
ok(rc == 0 and not any("s3cr3t" in t for t in texts) and
   json.load(open(outs[0]))["run"]["scenario"] == "tcp://alice@127.0.0.1:%d" % srv.port,
   "a URL run: its password is in no report either (scenario, target)", out + err)

done()
