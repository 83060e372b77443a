#!/usr/bin/env python3
"""TLS benchmark, three parts (about 60 s in all):

1. DNS over TLS against unbound (Debian's, started here on a free port with a
   certificate made by openssl): answers per client CPU-second, surge vs
   `dnsperf -m dot`, long-lived connections, same connections and queries in
   flight, one after the other; then both at the same fixed rates (surge's
   open model, dnsperf -Q): a quarter, half and three quarters of what unbound
   answered (goal >= 1.5).
2. Reconnect storm against `surge serve echo --tls-cert --close-after 1`:
   handshakes per client CPU-second, surge resuming vs surge with
   resume = false (what resumption saves); then over DNS against
   `surge serve dns --close-after 1`, surge vs `dnsperf -m dot` (which
   reconnects and never resumes) (goal >= 2).
3. Memory per idle connection held open: surge's workers' RSS with N
   connections over TLS 1.3, TLS 1.2 and plain TCP; the difference is what
   TLS costs per connection (goal <= 24 KiB).

    tests/bench/bench_tls.py [--conns 5000] [--secs 6] [--parts dot,storm,memory]
                             [--fractions 0.25,0.5,0.75]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from benchlib import measure, per_answer, workers_rss_kib  # noqa: E402
from tap import (SURGE, Serve, Server, counters, established_by_source, free_port,  # noqa: E402
                 parse_report, write_scenario)

ap = argparse.ArgumentParser()
ap.add_argument("--conns", type=int, default=5000, help="idle connections for the memory part")
ap.add_argument("--secs", type=int, default=6)
ap.add_argument("--parts", default="dot,storm,memory", help="which parts, comma-separated")
ap.add_argument("--fractions", default="0.25,0.5,0.75",
                help="fixed rates for the DoT part, as fractions of the closed model's answers/s")
a = ap.parse_args()
for tool in ("unbound", "dnsperf", "openssl"):
    if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
        sys.exit("%s is not installed (make deps)" % tool)

TMP = tempfile.mkdtemp(prefix="surge-bench-tls-")
CERT, KEY = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", KEY, "-out", CERT, "-days", "2", "-subj", "/CN=dot.test",
                "-addext", "subjectAltName=DNS:dot.test,IP:127.0.0.1"], check=True, capture_output=True)


def children_cpu(parent):
    """CPU seconds (user + system) of the children of pid `parent`."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
    return total


def settled(pid, port, n, limit):
    """Waits until n connections to port are established and surge's workers
    have gone idle (every handshake done); True if that happened in time."""
    end = time.time() + limit
    while time.time() < end and sum(established_by_source(port).values()) < n:
        time.sleep(0.3)
    last = children_cpu(pid)
    while time.time() < end:
        time.sleep(0.5)
        now = children_cpu(pid)
        if now - last < 0.02:
            return True
        last = now
    return False


parts = a.parts.split(",")

UNBOUND_CONF = """server:
  interface: 127.0.0.1@%d
  tls-port: %d
  tls-service-key: "%s"
  tls-service-pem: "%s"
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "%s"
  pidfile: ""
  use-syslog: no
  logfile: ""
  num-threads: 1
  incoming-num-tcp: 200
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "test." static
  local-data: "a.test. 60 IN A 10.0.0.1"
  local-data: "b.test. 60 IN A 10.0.0.2"
remote-control:
  control-enable: no
"""


def dot():
    """1. DoT: surge vs dnsperf -m dot against unbound."""
    CONNS, PIPE = 20, 10
    port = free_port()
    with open(os.path.join(TMP, "unbound.conf"), "w") as f:
        f.write(UNBOUND_CONF % (port, port, KEY, CERT, TMP))
    qfile = os.path.join(TMP, "queries.txt")
    with open(qfile, "w") as f:
        f.write("a.test A\nb.test A\nnx.test A\n")
    ub = Server(["/usr/sbin/unbound", "-d", "-c", os.path.join(TMP, "unbound.conf")],
                ready_port=("127.0.0.1", port))
    try:
        scn = write_scenario("""
    local dns = require "surge.proto.dns"
    return { target = "tls://127.0.0.1:%d", tls = { ca = "%s" },
             protocol = dns.tcp { queries = "%s", pipeline = %d },
             connections = %d, duration = "%ds", workers = 1 }
    """ % (port, CERT, qfile, PIPE, CONNS, a.secs))
        out, cpu, calls = measure([SURGE, "run", scn, "--no-progress"], a.secs + 30)
        r = parse_report(out)
        s_rate = r.get("completed", 0) / cpu if cpu else 0
        out, dcpu, dcalls = measure(["dnsperf", "-m", "dot", "-s", "127.0.0.1", "-p", str(port),
                                     "-d", qfile, "-c", str(CONNS), "-q", str(CONNS * PIPE),
                                     "-l", str(a.secs), "-T", "1"], a.secs + 30)
        m = re.search(r"Queries completed:\s+(\d+)", out)
        d_done = int(m.group(1)) if m else 0
        d_rate = d_done / dcpu if dcpu else 0
        print("DNS over TLS against unbound, %d connections, %d queries in flight, %d s:" %
              (CONNS, CONNS * PIPE, a.secs))
        print("  surge:   %d answers, %.2f CPU s -> %.0f answers per CPU-second, %s"
              % (r.get("completed", 0), cpu, s_rate, per_answer(calls, r.get("completed", 0))))
        print("  dnsperf: %d answers, %.2f CPU s -> %.0f answers per CPU-second, %s"
              % (d_done, dcpu, d_rate, per_answer(dcalls, d_done)))
        print("  ratio surge/dnsperf: %.2f (closed model)" % (s_rate / d_rate if d_rate else 0))
        # The same at fixed rates (the "same rate"; what surge is for):
        # surge's open model vs dnsperf -Q, at fractions of what unbound
        # answered above. Below 12.5k/s uniform arrivals are more than 80 us
        # apart, so each request is its own wake-up (its own context switch,
        # most of the cost on this VM); above, the pacer's window shares them.
        top = min(r.get("completed", 0), d_done) / a.secs
        for frac in (float(x) for x in a.fractions.split(",")):
            rate = max(1000, int(top * frac) // 1000 * 1000)
            scn = write_scenario("""
    local dns = require "surge.proto.dns"
    return { target = "tls://127.0.0.1:%d", tls = { ca = "%s" },
             protocol = dns.tcp { queries = "%s", pipeline = %d },
             connections = %d, rate = %d, duration = "%ds", workers = 1 }
    """ % (port, CERT, qfile, PIPE, CONNS, rate, a.secs))
            out, cpu, calls = measure([SURGE, "run", scn, "--no-progress"], a.secs + 30)
            r = parse_report(out)
            s_rate = r.get("completed", 0) / cpu if cpu else 0
            out, dcpu, dcalls = measure(["dnsperf", "-m", "dot", "-s", "127.0.0.1", "-p",
                                         str(port), "-d", qfile, "-c", str(CONNS), "-q",
                                         str(CONNS * PIPE), "-Q", str(rate), "-l", str(a.secs),
                                         "-T", "1"], a.secs + 30)
            m = re.search(r"Queries completed:\s+(\d+)", out)
            d_done = int(m.group(1)) if m else 0
            d_rate = d_done / dcpu if dcpu else 0
            print("DNS over TLS against unbound at a fixed %d q/s (open model, %.0f%% of the "
                  "closed model's), %d connections, %d s:" % (rate, 100 * frac, CONNS, a.secs))
            print("  surge:   %d answers, %.2f CPU s -> %.0f answers per CPU-second, %s"
                  % (r.get("completed", 0), cpu, s_rate, per_answer(calls, r.get("completed", 0))))
            print("  dnsperf: %d answers, %.2f CPU s -> %.0f answers per CPU-second, %s"
                  % (d_done, dcpu, d_rate, per_answer(dcalls, d_done)))
            print("  ratio surge/dnsperf: %.2f (goal >= 1.5)" % (s_rate / d_rate if d_rate else 0))
    finally:
        ub.stop()


def storm():
    """2. Reconnect storm: one request per connection, the server closes after
    it. Each mode runs twice, 1 s and longer: the difference is the
    handshakes' own cost, without the start (Lua, fork) both runs pay."""
    srv = Serve("echo", "--tls-cert", CERT, "--tls-key", KEY, "--close-after", "1", workers=1)
    rates = {}
    for resume in ("true", "false"):
        runs = []
        for secs in (1, 1 + max(2, a.secs // 2)):
            scn = write_scenario("""
local echo = require "surge.proto.echo"
return { target = "tls://127.0.0.1:%d", tls = { ca = "%s", resume = %s },
         protocol = echo.new { size = 16 }, connections = 20, connect_rate = 100000,
         duration = "%ds", workers = 1 }
""" % (srv.port, CERT, resume, secs))
            out, cpu, _ = measure([SURGE, "run", scn, "--no-progress"], a.secs + 30)
            c = counters(out)
            runs.append((c.get("tls.full", 0) + c.get("tls.resumed", 0), c.get("tls.resumed", 0), cpu))
        (n1, _, c1), (n2, r2, c2) = runs
        rates[resume] = (n2 - n1) / (c2 - c1) if c2 > c1 else 0
        print("reconnect storm, resume=%s: %d handshakes (%d resumed) in %.2f CPU s, %d in %.2f: "
              "%.0f per CPU-second" % (resume, n2, r2, c2, n1, c1, rates[resume]))
    srv.stop()
    print("  ratio resuming/full (what resumption saves surge): %.2f"
          % (rates["true"] / rates["false"] if rates["false"] else 0))

    # The same storm over DNS against dnsperf -m dot itself, which reconnects
    # when the server closes (Reconnections in its report) and never resumes:
    # `surge serve dns` closes after each answer; surge opens a connection per
    # query (requests_per_connection = 1), so neither sends into a closing
    # connection. Whole runs, start included for both.
    srv = Serve("dns", "--tls-cert", CERT, "--tls-key", KEY, "--close-after", "1", workers=1)
    qfile = os.path.join(TMP, "storm-queries.txt")
    with open(qfile, "w") as f:
        f.write("a.test A\nb.test A\n")
    secs = max(3, a.secs // 2)
    out, dcpu, _ = measure(["dnsperf", "-m", "dot", "-s", "127.0.0.1", "-p", str(srv.port), "-d",
                            qfile, "-c", "20", "-l", str(secs), "-T", "1"], secs + 30)
    m = re.search(r"Reconnections:\s+(\d+)", out)
    d_hs = (int(m.group(1)) + 20) if m else 0
    m = re.search(r"Queries completed:\s+(\d+)", out)
    d_done = int(m.group(1)) if m else 0
    scn = write_scenario("""
local dns = require "surge.proto.dns"
return { target = "tls://127.0.0.1:%d", tls = { ca = "%s" },
         protocol = dns.tcp { queries = "%s", pipeline = 1 }, requests_per_connection = 1,
         connections = 20, connect_rate = 100000, duration = "%ds", workers = 1 }
""" % (srv.port, CERT, qfile, secs))
    out, scpu, _ = measure([SURGE, "run", scn, "--no-progress"], secs + 30)
    srv.stop()
    c, r = counters(out), parse_report(out)
    s_hs = c.get("tls.full", 0) + c.get("tls.resumed", 0)
    d_rate, s_rate = d_hs / dcpu if dcpu else 0, s_hs / scpu if scpu else 0
    print("DNS over TLS reconnect storm against surge serve dns --close-after 1, 20 connections, "
          "%d s:" % secs)
    print("  surge:   %d handshakes (%d resumed), %d answers, %s errors, %.2f CPU s -> %.0f "
          "handshakes per CPU-second" % (s_hs, c.get("tls.resumed", 0), r.get("completed", 0),
                                         r.get("errors"), scpu, s_rate))
    print("  dnsperf: %d handshakes (20 + reconnections), %d answers, %.2f CPU s -> %.0f "
          "handshakes per CPU-second" % (d_hs, d_done, dcpu, d_rate))
    print("  ratio surge/dnsperf: %.2f (goal >= 2)" % (s_rate / d_rate if d_rate else 0))


def memory():
    """3. Memory per idle connection."""
    srv = Serve("echo", "--tls-cert", CERT, "--tls-key", KEY, workers=2)
    plain = Serve("echo", workers=2)
    per = {}
    HOLD = a.conns // 1000 + 20
    for label, port, extra in (("plain TCP", plain.port, ""), ("TLS 1.3", srv.port, ""),
                               ("TLS 1.2", srv.port, ', max_version = "1.2"')):
        target = "%s://127.0.0.1:%d" % ("tcp" if label == "plain TCP" else "tls", port)
        tls = ', tls = { ca = "%s"%s }' % (CERT, extra) if target.startswith("tls") else ""
        scn = write_scenario("""
    local echo = require "surge.proto.echo"
    return { target = "%s"%s, protocol = echo.new { size = 16 },
             connections = %d, connect_rate = 2000, think = "120s", duration = "%ds",
             connect_timeout = "20s", workers = 1, start = "now" }
    """ % (target, tls, a.conns, HOLD))
        p = subprocess.Popen([SURGE, "run", scn, "--no-progress"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        # Measured once every connection is open and its first answer read
        # (tickets included), with nothing more going on.
        calm = settled(p.pid, port, a.conns, HOLD - 3)
        rss = workers_rss_kib(p.pid)
        p.terminate()
        out, err = p.communicate(timeout=120)
        r = parse_report(out)
        per[label] = rss * 1024.0 / a.conns
        print("%d idle connections, %s: workers' RSS %d KiB -> %.0f bytes per connection (opened %s%s)"
              % (a.conns, label, rss, per[label], r.get("opened"),
                 "" if calm else "; NOT settled in time: the number is not meaningful"))
    srv.stop()
    plain.stop()
    for v in ("TLS 1.3", "TLS 1.2"):
        d = (per[v] - per["plain TCP"]) / 1024
        print("  %s costs %.1f KiB per idle connection over plain TCP (goal <= 24 KiB)" % (v, d))


for name, fn in (("dot", dot), ("storm", storm), ("memory", memory)):
    if name in parts:
        fn()
