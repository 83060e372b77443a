#!/usr/bin/env python3
"""How signals stop a run (engine/stopping.c, the workers' handler): a
SIGTERM to the whole process group, as GNU timeout, systemd and Kubernetes
send it, drains like the first Ctrl-C; a signal in the drain after the end
still makes the run an interrupted one."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE as _SURGE, Serve, done, ok, write_scenario  # noqa: E402

SURGE = os.environ.get("SURGE", "build/surge")
scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:1", protocol = echo.new { size = 16 } }
""")


def report(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


# GNU timeout signals the whole group it leads: each worker gets that
# SIGTERM and the one the coordinator forwards. Neither may give up the
# drain: with a 400 ms server every connection has an answer in flight.
for attempt in range(3):
    srv = Serve("echo", "--delay", "400ms")
    out = os.path.join(tempfile.mkdtemp(prefix="surge-sig-"), "run.json")
    p = subprocess.run(["timeout", "--preserve-status", "-s", "TERM", "2.5", SURGE, "run", scn,
                        "--target", "127.0.0.1:%d" % srv.port, "-d", "60s", "-c", "8", "-w", "2",
                        "-o", "drain=10s", "--json", out, "-q", "--no-progress"],
                       capture_output=True, text=True, timeout=60)
    srv.stop()
    j = report(out)
    req = j.get("totals", {}).get("requests", {})
    ok(p.returncode == 130 and req.get("unfinished") == 0 and req.get("completed", 0) > 0 and
       j.get("run", {}).get("interrupted") is True and "stopping at once" not in p.stderr,
       "timeout -s TERM (the whole group), run %d: drained, exit 130, unfinished %s of sent %s"
       % (attempt + 1, req.get("unfinished"), req.get("sent")), p.stderr + json.dumps(req))


# The same, made certain: GNU timeout signals surge, then the group, so
# the coordinator itself can take two SIGTERMs some time apart. The second
# must not give the drain up (only Ctrl-C escalates). A 2 s server keeps
# answers in flight past the second.
srv = Serve("echo", "--delay", "2s")
out = os.path.join(tempfile.mkdtemp(prefix="surge-sig-"), "run.json")
p = subprocess.Popen([SURGE, "run", scn, "--target", "127.0.0.1:%d" % srv.port, "-d", "60s",
                      "-c", "8", "-w", "2", "-o", "drain=10s", "--json", out, "-q", "--progress"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = p.stderr.readline()
while line and not line.startswith("[  1s]"):
    line = p.stderr.readline()
p.send_signal(signal.SIGTERM)
time.sleep(0.5)
p.send_signal(signal.SIGTERM)
_, err = p.communicate(timeout=60)
srv.stop()
j = report(out)
req = j.get("totals", {}).get("requests", {})
ok(p.returncode == 130 and req.get("unfinished") == 0 and req.get("completed", 0) > 0 and
   "stopping at once" not in err,
   "two SIGTERMs to the coordinator: still drained (exit %s, unfinished %s of sent %s)"
   % (p.returncode, req.get("unfinished"), req.get("sent")), err + json.dumps(req))


def run_into_drain(sig):
    """-d 6s against a 5 s server, drain 15 s: the signal comes at about 6.8 s,
    in the drain, before the second round of answers (10 s)."""
    srv = Serve("echo", "--delay", "5s")
    out = os.path.join(tempfile.mkdtemp(prefix="surge-sig-"), "run.json")
    p = subprocess.Popen([SURGE, "run", scn, "--target", "127.0.0.1:%d" % srv.port, "-d", "6s",
                          "-c", "8", "-o", "drain=15s", "--progress", "--json", out, "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    line = p.stderr.readline()
    while line and not line.startswith("[  1s]"):
        line = p.stderr.readline()
    time.sleep(5.8)
    os.killpg(p.pid, sig)
    t0 = time.time()
    _, err = p.communicate(timeout=60)
    took = time.time() - t0
    srv.stop()
    return p.returncode, report(out), err, took


# Ctrl-C in the drain stops at once, and the run counts as interrupted: not
# exit 0 with "interrupted": false.
rc, j, err, took = run_into_drain(signal.SIGINT)
req = j.get("totals", {}).get("requests", {})
ok(rc == 130 and j.get("run", {}).get("interrupted") is True and "stopping at once" in err and
   j.get("run", {}).get("elapsed_s") == 6 and req.get("unfinished", 0) > 0,
   "Ctrl-C in the drain: stops at once, exit %s, interrupted %s, elapsed %s s"
   % (rc, j.get("run", {}).get("interrupted"), j.get("run", {}).get("elapsed_s")), err)

# SIGTERM in the drain keeps draining: the second round of answers (at 10 s)
# still comes in.
rc, j, err, took = run_into_drain(signal.SIGTERM)
req = j.get("totals", {}).get("requests", {})
ok(rc == 130 and j.get("run", {}).get("interrupted") is True and "stopping at once" not in err
   and req.get("unfinished") == 0 and took > 2,
   "SIGTERM in the drain: the drain goes on (exit %s, unfinished %s, %.1f s more)"
   % (rc, req.get("unfinished"), took), err)



def alive(pid):
    """Running (a zombie has stopped: nothing may reap it in a container)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return "\nState:\tZ" not in f.read()
    except OSError:
        return False


def with_scenario(path):
    """Processes whose command line names this scenario (surge's workers are
    forks of it: the same command line)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if path.encode() in f.read() and alive(int(d)):
                        pids.append(int(d))
            except OSError:
                pass
    return pids


# The coordinator killed: its workers die with it (PR_SET_PDEATHSIG), they do
# not load the target until the run's end.
srv = Serve("echo")
own = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 } }
""" % srv.port, name="orphans.lua")
p = subprocess.Popen([SURGE, "run", own, "-d", "30s", "-c", "4", "-w", "2", "--progress", "-q"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = p.stderr.readline()
while line and not line.startswith("[  1s]"):
    line = p.stderr.readline()
with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
    workers = [int(x) for x in f.read().split()]
p.kill()
p.wait()
end = time.time() + 5
while time.time() < end and any(alive(w) for w in workers):
    time.sleep(0.05)
ok(len(workers) == 2 and not any(alive(w) for w in workers),
   "coordinator SIGKILLed: its %d workers die with it" % len(workers))
srv.stop()

# Pipes running out mid-spawn (a low open-files limit): the workers already
# forked are killed and reaped, not left loading the target for the run.
import resource  # noqa: E402
hit = 0
for lim in (14, 16, 18, 20, 22, 24):
    srv = Serve("echo")
    own = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 }, connections = 8 }
""" % srv.port, name="midspawn.lua")

    def low(n=lim):
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    p = subprocess.run([SURGE, "run", own, "-w", "8", "-d", "3s", "--no-progress", "-q"],
                       capture_output=True, text=True, preexec_fn=low, timeout=60)
    if "cannot start workers" not in p.stderr:
        srv.stop()
        break
    hit += 1
    time.sleep(0.5)  # orphans would have connected by now (they start after 150 ms)
    left = with_scenario(own)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    seen = srv.stop()
    ok(p.returncode == 1 and not left and seen.get("accepted") == 0,
       "open-files soft limit %d: exit 1 (%s), no worker left running (%s), %s connections "
       "made" % (lim, p.stderr.strip(), left, seen.get("accepted")))
ok(hit > 0, "some open-files limits made the spawn fail midway (%d)" % hit)


def past_first_second(*args):
    """Starts a 2-worker run against srv writing its JSON to out; returns once
    its first progress line is out: (the process, stderr so far, worker pids)."""
    p = subprocess.Popen([SURGE, "run", scn, "--target", "127.0.0.1:%d" % srv.port, "-w", "2",
                          "--progress", "--json", out, "-q"] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    line = p.stderr.readline()
    while line and not line.startswith("[  1s]"):
        seen.append(line)
        line = p.stderr.readline()
    seen.append(line)
    with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
        return p, seen, [int(x) for x in f.read().split()]


# A worker SIGKILLed mid-run: named with its signal; the other goes on and
# progress does not stall on the dead one's seconds; the schedule's intended
# total is kept (1000/s for 4 s), the dead one's share counted as not sent
# and its in-flight requests as unfinished.
srv = Serve("echo", "--delay", "2ms")
out = os.path.join(tempfile.mkdtemp(prefix="surge-sig-"), "run.json")
p, seen, workers = past_first_second("-d", "4s", "-c", "10", "-r", "1000")
victim = workers[1]
os.kill(victim, signal.SIGKILL)
_, rest = p.communicate(timeout=60)
err = "".join(seen) + rest
srv.stop()
j = report(out)
tot = j.get("totals", {})
req = tot.get("requests", {})
errs = tot.get("errors", {}).get("total", 0)
ok(p.returncode == 1 and "worker 1 (pid %d) was killed by SIGKILL" % victim in err and
   "the other workers go on" in err, "a worker SIGKILLed: named with its signal, exit 1", err)
ok("[  4s]" in err, "progress goes on to the last second (not stalled on the dead worker)", err)
ok(j.get("run", {}).get("workers_lost") == 1, "workers_lost 1 in the JSON", json.dumps(j.get("run")))
ok(req.get("intended") == 4000 and 2000 <= req.get("sent", 0) < 3200,
   "intended keeps the schedule's 4000; sent %s (half of it after the kill)" % req.get("sent"),
   json.dumps(req))
ok(req.get("sent") == req.get("completed", 0) + req.get("unfinished", 0) + errs,
   "sent = completed + unfinished + errors (%s, %s errors)" % (json.dumps(req), errs))
series = j.get("series", [])
# (a request due on a second's boundary may fall on either side of it)
ok(len(series) >= 4 and all(abs(sec.get("intended", 0) - 1000) <= 2 for sec in series[:4]),
   "each second keeps its 1000 intended: %s" % [sec.get("intended") for sec in series])

# The dead worker's share is its slot's of the whole run's schedule: in a
# shard, the shard's slice (500/s of 1000/s over 2 shards), and with -n
# no more than the count (1500, all due by 1.5 s).
for args, want, per_second in ((["--shard", "1/2"], 2000, 500), (["-n", "1500"], 1500, None)):
    srv = Serve("echo", "--delay", "2ms")
    out = os.path.join(tempfile.mkdtemp(prefix="surge-sig-"), "run.json")
    p, seen, workers = past_first_second("-d", "4s", "-c", "10", "-r", "1000", *args)
    os.kill(workers[1], signal.SIGKILL)
    _, rest = p.communicate(timeout=60)
    srv.stop()
    j = report(out)
    req = j.get("totals", {}).get("requests", {})
    series = [sec.get("intended") for sec in j.get("series", [])]
    ok(p.returncode == 1 and req.get("intended") == want and
       (per_second is None or all(abs(x - per_second) <= 2 for x in series[:4])),
       "%s, a worker SIGKILLed: intended %s = %d (per second %s)"
       % (" ".join(args), req.get("intended"), want, series), "".join(seen) + rest)

# A worker silent for 5 s mid-run is named with why: a stopped one
# (SIGSTOP) says so, and continued it catches up; the run ends
# normally with every answer accounted.
srv = Serve("echo")
out = os.path.join(tempfile.mkdtemp(prefix="surge-sig-"), "run.json")
p, seen, workers = past_first_second("-d", "14s", "-c", "4", "-r", "200")
victim = workers[0]
os.kill(victim, signal.SIGSTOP)
# Warned 5 s into the silence plus up to two watch periods (1 s each).
time.sleep(9.5)
os.kill(victim, signal.SIGCONT)
_, rest = p.communicate(timeout=60)
err = "".join(seen) + rest
srv.stop()
tot = report(out).get("totals", {})
req, errs = tot.get("requests", {}), tot.get("errors", {}).get("total", 0)
ok(p.returncode == 0 and "worker 0 has sent nothing for" in err and
   "it is stopped (SIGSTOP" in err and "stuck in a loop" not in err,
   "a worker stopped for 9.5 s: named as stopped, not as a loop; exit 0 (%d)" % p.returncode, err)
# Its requests in flight while it was stopped may have timed out (errors).
ok(req.get("sent", 0) >= 2700 and
   req.get("sent") == req.get("completed", 0) + req.get("unfinished", 0) + errs,
   "continued, it catches up: sent = completed + unfinished + errors (%s, %s errors)"
   % (json.dumps(req), errs))

# A stop before traffic begins: Ctrl-C (to the group, as a terminal sends
# it) 1 s into a 5 s connect phase, and SIGTERM while waiting for
# --start-at. Both used to be held until the start, and then one request
# per connection went out and the report said 5e11 req/s over "0.00 s".
def before_start(extra, sig):
    srv = Serve("echo")
    d = tempfile.mkdtemp(prefix="surge-sig-")
    out, hlog = os.path.join(d, "run.json"), os.path.join(d, "run.hlog")
    p = subprocess.Popen([SURGE, "run", scn, "--target", "127.0.0.1:%d" % srv.port, "-c", "500",
                          "-d", "5s", "-w", "2", "--json", out, "--hlog", hlog, "--no-progress"]
                         + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    time.sleep(1)
    os.killpg(p.pid, sig)
    text, err = p.communicate(timeout=60)
    ended = time.time()
    seen = srv.stop()
    return p.returncode, report(out), text, err, seen, hlog, ended


rc, j, text, err, seen, hlog, _ = before_start(["-o", "start=connected", "-o", "connect_rate=100"],
                                               signal.SIGINT)
conns = j.get("totals", {}).get("connections", {})
ok(rc == 130 and seen.get("bytes_in") == 0 and j.get("totals", {}).get("requests", {}).get("sent") == 0
   and 0 < conns.get("opened", 0) < 400,
   "Ctrl-C in the connect phase: stops it (%s of 500 opened), nothing sent (server bytes_in %s), "
   "exit 130 (%s)" % (conns.get("opened"), seen.get("bytes_in"), rc), err)
ok("Interrupted after 0.00 s" in text and "throughput  - (0 s: stopped before traffic began)" in text
   and "GB/s" not in text, "... the report shows no rate for 0 s", text)
rc2, out2, err2 = (lambda p: (p.returncode, p.stdout, p.stderr))(subprocess.run(
    [SURGE, "report", hlog], capture_output=True, text=True, timeout=60))
ok(rc2 == 1 and "still being written" not in err2 and "Interrupted after 0.00 s" in out2,
   "... its log is whole: surge report says 0.00 s, not 'still being written' (exit 1: nothing measured)", out2 + err2)

start_at = time.time() + 6
rc, j, text, err, seen, hlog, ended = before_start(["--start-at", "%.3f" % start_at],
                                                   signal.SIGTERM)
ok(rc == 130 and ended < start_at and seen.get("bytes_in") == 0,
   "SIGTERM while waiting for --start-at: ends before the start (%.1f s early), nothing sent "
   "(server bytes_in %s)" % (start_at - ended, seen.get("bytes_in")), err)

done()
