#!/usr/bin/env python3
"""A real scheduler runs the shards: a 4-node Slurm cluster (munge, one
slurmctld, one slurmd per network namespace with its own address in
198.18.0.0/15, as ../shared/PEERS.md describes) takes `sbatch --array=0-3`
of `surge run --shard auto` against `surge serve` in the root namespace, and
GNU parallel does the same without a daemon. For each: the server's replies
equal the merged completed count, sent and intended sum exactly to the one
run's schedule, each node's connections come from its own address, and the
merged percentiles equal hdr-histogram-js over every shard's log. Every
daemon is stopped by its pid and the namespaces deleted, pass or fail."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import SURGE, Serve, diag, done, free_port, ok, skip_all, surge  # noqa: E402
import reports  # noqa: E402

N = 4
RATE, SECS, CONNS = 400, 2, 8          # the schedule: exactly 800 requests
tag = "%d" % (os.getpid() % 10000)
NET = "198.18.%d" % (100 + os.getpid() % 100)  # a /24 of our own in the test range
BR = "sbr" + tag
NS = ["surge-n%d-%s" % (i, tag) for i in range(1, N + 1)]
HOST = socket.gethostname().split(".")[0]

if os.geteuid() != 0:
    skip_all("needs root: network namespaces and slurmd")
for tool in ("slurmctld", "slurmd", "sbatch", "sinfo", "munged", "munge", "nsenter", "parallel"):
    if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
        skip_all("%s is not installed (make deps: slurmctld slurmd slurm-client munge parallel)"
                 % tool)

tmp = tempfile.mkdtemp(prefix="surge-slurm-")  # the cluster's "shared storage"
os.chmod(tmp, 0o755)
procs = []         # daemons we started: Popen objects, stopped by pid
munged_pid = None  # munged daemonizes: its pid file


def sh(*argv, check=True, ns=None):
    full = (["nsenter", "--net=/run/netns/" + ns] if ns else []) + list(argv)
    p = subprocess.run(full, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(full), p.stderr.strip()))
    return p


def net_up():
    sh("ip", "link", "add", BR, "type", "bridge")
    sh("ip", "addr", "add", NET + ".1/24", "dev", BR)
    sh("ip", "link", "set", BR, "up")
    for i, ns in enumerate(NS, 1):
        sh("ip", "netns", "add", ns)
        host, peer = "sv%d-%s" % (i, tag), "sp%d-%s" % (i, tag)
        sh("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
        sh("ip", "link", "set", peer, "netns", ns)
        sh("ip", "link", "set", host, "master", BR, "up")
        sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "link", "set", peer, "up", ns=ns)
        sh("ip", "addr", "add", "%s.%d/24" % (NET, 10 + i), "dev", peer, ns=ns)


def net_down():
    for ns in NS:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "link", "del", BR], capture_output=True)


def munge_up():
    """One munged serves every namespace (its socket is a path). Ours only if
    none answers already."""
    global munged_pid
    if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
        return
    os.makedirs("/run/munge", exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    pidf = os.path.join(tmp, "munged.pid")
    open(pidf, "w").close()
    shutil.chown(pidf, "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--pid-file", pidf],
                   check=True, capture_output=True, timeout=20)
    end = time.time() + 10
    while time.time() < end:
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            munged_pid = int(open(pidf).read().strip())
            return
        time.sleep(0.1)
    raise RuntimeError("munged did not answer")


def conf():
    ctl, sd = free_port(), free_port()
    path = os.path.join(tmp, "slurm.conf")
    nodes = "".join("NodeName=n%d NodeAddr=%s.%d CPUs=2 RealMemory=500 State=UNKNOWN\n"
                    % (i, NET, 10 + i) for i in range(1, N + 1))
    with open(path, "w") as f:
        f.write("""ClusterName=surge%(tag)s
SlurmctldHost=%(host)s(%(net)s.1)
SlurmctldPort=%(ctl)d
SlurmdPort=%(sd)d
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
StateSaveLocation=%(tmp)s/state
SlurmdSpoolDir=%(tmp)s/spool/%%n
SlurmctldPidFile=%(tmp)s/slurmctld.pid
SlurmdPidFile=%(tmp)s/slurmd-%%n.pid
SlurmctldLogFile=%(tmp)s/slurmctld.log
SlurmdLogFile=%(tmp)s/slurmd-%%n.log
%(nodes)sPartitionName=p Nodes=n[1-%(n)d] Default=YES MaxTime=5 State=UP
""" % dict(tag=tag, host=HOST, net=NET, ctl=ctl, sd=sd, tmp=tmp, nodes=nodes, n=N))
    os.makedirs(os.path.join(tmp, "state"))
    for i in range(1, N + 1):
        os.makedirs(os.path.join(tmp, "spool", "n%d" % i))
    return path


def slurm_up(cf):
    env = dict(os.environ, SLURM_CONF=cf)
    log = open(os.path.join(tmp, "daemons.out"), "a")
    procs.append(subprocess.Popen(["slurmctld", "-D", "-f", cf], env=env, stdout=log,
                                  stderr=subprocess.STDOUT))
    for i, ns in enumerate(NS, 1):
        # nsenter and unshare exec (no fork): the Popen's pid is slurmd's.
        procs.append(subprocess.Popen(
            ["nsenter", "--net=/run/netns/" + ns, "unshare", "--uts", "sh", "-c",
             "hostname n%d && exec slurmd -D -f %s -N n%d" % (i, cf, i)],
            env=env, stdout=log, stderr=subprocess.STDOUT))
    end = time.time() + 30
    while time.time() < end:
        p = subprocess.run(["sinfo", "-h", "-N", "-t", "idle", "-o", "%N"], env=env,
                           capture_output=True, text=True)
        if len(p.stdout.split()) == N:
            return env
        if any(x.poll() is not None for x in procs):
            break
        time.sleep(0.2)
    raise RuntimeError("the %d nodes did not come up idle: %s" % (N, tail("slurmctld.log")))


def tail(name, n=1500):
    try:
        with open(os.path.join(tmp, name)) as f:
            return f.read()[-n:]
    except OSError:
        return ""


def stop_all(env):
    if env:
        subprocess.run(["scancel", "--full", "-u", "root"], env=env, capture_output=True)
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if munged_pid:
        try:
            with open("/proc/%d/comm" % munged_pid) as f:
                if f.read().strip() == "munged":
                    os.kill(munged_pid, signal.SIGTERM)
        except OSError:
            pass


def check(kind, srv_report, docs, logs, nodes):
    """The four facts, for one scheduler's shards."""
    ok(len(docs) == N and all(docs), "%s: all %d shards wrote their report" % (kind, N))
    if not all(docs):
        return
    mj = os.path.join(tmp, kind + "-merged.json")
    rc, out, err = surge("report", *logs, "--json", mj)
    m = reports.load(mj)
    ok(rc == 0 and "shards: 4 of 4" in out, "%s: surge report merges the 4 shards" % kind,
       out + err)
    ok(m["totals"]["requests"]["completed"] == srv_report.get("replies"),
       "%s: server's replies (%s) == merged completed (%d)"
       % (kind, srv_report.get("replies"), m["totals"]["requests"]["completed"]))
    got = [x["totals"]["requests"]["intended"] for x in docs]
    ok(sum(got) == RATE * SECS and m["totals"]["requests"]["intended"] == RATE * SECS,
       "%s: intended %s sum exactly to the schedule's %d" % (kind, got, RATE * SECS))
    # Sent, or on a machine too busy dropped from the backlog (counted, never lost).
    got = [x["totals"]["requests"]["sent"] + x["totals"]["requests"]["dropped"] for x in docs]
    ok(sum(got) == RATE * SECS and m["totals"]["requests"]["sent"] ==
       sum(x["totals"]["requests"]["sent"] for x in docs),
       "%s: sent + dropped %s sum exactly to the schedule's %d" % (kind, got, RATE * SECS))
    ok(m["run"]["connections"] == CONNS, "%s: merged run asked %d connections" % (kind, CONNS),
       m["run"]["connections"])
    ok(sorted(x["run"]["shard"]["index"] for x in docs) == [1, 2, 3, 4],
       "%s: shards 1..4 each ran once" % kind)
    own = []
    for x, (node, addr) in zip(docs, nodes):
        src = [(a["address"], a["connections"]) for a in x["addresses"]["sources"]]
        own.append(src == [(addr, CONNS // N)])
    ok(all(own) and len(set(a for _, a in nodes)) == N,
       "%s: each node's %d connections come from its own address %s" % (kind, CONNS // N, nodes),
       [x["addresses"]["sources"] for x in docs])
    ok(len(set(x["run"]["start_time"] for x in docs)) == 1,
       "%s: every shard started at the same instant" % kind)
    if reports.node_modules() and reports.have("node"):
        dec = reports.hdr_decode(*logs)
        ok(dec["latency"]["percentiles"] == m["histograms"]["latency"]["percentiles"] and
           dec["latency"]["count"] == m["totals"]["requests"]["completed"],
           "%s: merged percentiles == hdr-histogram-js over every shard's log" % kind)
    else:
        ok(False, "hdr-histogram-js available (make node-deps)")


SCN = """local echo = require "surge.proto.echo"
return { target = "tcp://%s.1:%%d", protocol = echo.new { size = 16 },
         connections = %d, rate = %d, duration = "%ds",
         thresholds = { ["latency.p99"] = "< 5s" } }
""" % (NET, CONNS, RATE, SECS)

env = None
srv = None
try:
    net_up()
except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired) as e:
    net_down()
    skip_all("cannot create network namespaces here: %s" % e)
try:
    munge_up()
    cf = conf()
    env = slurm_up(cf)
    diag("4 Slurm nodes idle on %s.11-14; controller on %s.1" % (NET, NET))

    # --- Slurm: a 4-task array, the array task id as the shard
    srv = Serve("echo", listen=NET + ".1:0")
    scn = os.path.join(tmp, "scn.lua")
    with open(scn, "w") as f:
        f.write(SCN % srv.port)
    job = os.path.join(tmp, "job.sh")
    with open(job, "w") as f:
        f.write("""#!/bin/sh
A=%(net)s.$((10 + ${SLURMD_NODENAME#n}))
echo "$SLURMD_NODENAME $A" > node-$SLURM_ARRAY_TASK_ID
exec %(surge)s run scn.lua --shard auto --start-at +3s@start --bind $A -w 1 -q \\
     --hlog shard-$SLURM_ARRAY_TASK_ID.hlog --json shard-$SLURM_ARRAY_TASK_ID.json
""" % dict(net=NET, surge=SURGE))
    os.chmod(job, 0o755)
    p = subprocess.run(["sbatch", "--array=0-%d" % (N - 1), "--exclusive", "-N1", "--wait",
                        "--chdir", tmp, "-o", os.path.join(tmp, "job-%a.out"), job],
                       env=env, capture_output=True, text=True, timeout=90)
    ok(p.returncode == 0, "sbatch --array=0-3 of surge run --shard auto completed",
       p.stdout + p.stderr + "".join(tail("job-%d.out" % i) for i in range(N)))
    srv_report = srv.stop()
    srv = None
    docs, logs, nodes = [], [], []
    for i in range(N):
        js = os.path.join(tmp, "shard-%d.json" % i)
        docs.append(reports.load(js) if os.path.exists(js) else None)
        logs.append(os.path.join(tmp, "shard-%d.hlog" % i))
        try:
            node, addr = open(os.path.join(tmp, "node-%d" % i)).read().split()
        except (OSError, ValueError):
            node, addr = "?", "?"
        nodes.append((node, addr))
    ok(len(set(n for n, _ in nodes)) == N, "--exclusive: each task on a node of its own (%s)"
       % [n for n, _ in nodes])
    check("slurm", srv_report, docs, logs, nodes)

    # --- GNU parallel: no daemon; PARALLEL_SEQ (1-based) of SURGE_SHARD_COUNT
    srv = Serve("echo", listen=NET + ".1:0")
    with open(scn, "w") as f:
        f.write(SCN % srv.port)
    cmd = ("nsenter --net=/run/netns/surge-n{}-%s env SURGE_SHARD_COUNT=%d %s run %s "
           "--shard auto --start-at +3s@%s/pstart --bind %s.1{} -w 1 -q "
           "--hlog %s/par-{}.hlog --json %s/par-{}.json" % (tag, N, SURGE, scn, tmp, NET, tmp, tmp))
    p = subprocess.run(["parallel", "--will-cite", "-j%d" % N, cmd, ":::"] +
                       [str(i) for i in range(1, N + 1)], capture_output=True, text=True,
                       timeout=90)
    ok(p.returncode == 0, "parallel -j4 of surge run --shard auto completed", p.stdout + p.stderr)
    srv_report = srv.stop()
    srv = None
    docs = [reports.load(os.path.join(tmp, "par-%d.json" % i))
            if os.path.exists(os.path.join(tmp, "par-%d.json" % i)) else None
            for i in range(1, N + 1)]
    logs = [os.path.join(tmp, "par-%d.hlog" % i) for i in range(1, N + 1)]
    check("parallel", srv_report, docs, logs,
          [("ns%d" % i, "%s.%d" % (NET, 10 + i)) for i in range(1, N + 1)])
except Exception as e:  # a broken cluster is a failure, with what it said
    ok(False, "the cluster ran: %s" % e, tail("slurmctld.log") + tail("daemons.out"))
finally:
    if srv:
        srv.stop()
    stop_all(env)
    net_down()
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    ok(not any(ns in left for ns in NS), "namespaces deleted")
    ok(all(p.poll() is not None for p in procs), "every daemon stopped (%d)" % len(procs))
done()
