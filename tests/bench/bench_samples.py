#!/usr/bin/env python3
"""The sample log's cost (issue 16): the same open-model echo run at 100k
requests/s, once without and once with `--samples` recording every request,
against the same kind of server. Prints the client CPU per answer (user + sys
of surge's process tree, as getrusage sees its children) of each and their
ratio. Goal: logging every request costs <= 10% more CPU per answer.

    tests/bench/bench_samples.py [--rate 100000] [--secs 5] [--conns 100]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e", "lib"))
from tap import SURGE, Serve, write_scenario  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--rate", type=int, default=100000)
ap.add_argument("--secs", type=int, default=5)
ap.add_argument("--conns", type=int, default=100)
a = ap.parse_args()
if not 1 <= a.secs <= 30:
    sys.exit("--secs: from 1 to 30")
GOAL = 1.10


def run(samples):
    """One run against a server of its own; returns (answers the server
    sent, answers surge completed, client CPU seconds, records in the sample
    log or None)."""
    srv = Serve("echo", workers=1)
    scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 64, pipeline = 8 },
         connections = %d, rate = %d, duration = "%ds" }
""" % (srv.port, a.conns, a.rate, a.secs))
    argv = [SURGE, "run", scn, "--no-progress", "-q", "--json", "-"]
    if samples:
        argv += ["--samples", samples]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=a.secs + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Echo has no messages of its own: the server's count is its bytes
    # over the request size.
    answers = int(srv.stop().get("bytes_out", 0)) // 64
    if p.returncode != 0:
        sys.exit("surge failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
    completed = json.loads(p.stdout)["totals"]["requests"]["completed"]
    records = None
    if samples:
        s = subprocess.run([SURGE, "samples", samples], capture_output=True, text=True, timeout=120)
        for line in (s.stdout + s.stderr).splitlines():
            if "records" in line:
                digits = [int(w) for w in line.replace(",", " ").split() if w.isdigit()]
                if digits:
                    records = digits[0]
                    break
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return answers, completed, cpu, records


tmp = tempfile.mkdtemp(prefix="surge-bench-samples-")
path = os.path.join(tmp, "run.samples")
print("Sample log cost: echo, open model, %d req/s over %d connections for %d s (1 worker server):"
      % (a.rate, a.conns, a.secs))
plain = run(None)
logged = run(path)
for name, (answers, completed, cpu, records) in (("without --samples", plain),
                                                 ("every request logged", logged)):
    print("  %-22s %8d answers (surge completed %d), %5.2f CPU-s -> %6.2f us per answer%s"
          % (name, answers, completed, cpu, 1e6 * cpu / max(answers, 1),
             "" if records is None else ", %d records, %.1f MB"
             % (records, os.path.getsize(path) / 1e6)))
ratio = (logged[2] / max(logged[0], 1)) / (plain[2] / max(plain[0], 1))
print("  ratio of CPU per answer, logged / plain: %.2f (goal <= %.2f)" % (ratio, GOAL))
os.unlink(path)
sys.exit(0 if ratio <= GOAL else 1)
