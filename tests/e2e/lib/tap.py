"""TAP output and helpers for surge's end-to-end tests (run by prove)."""
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SURGE = os.environ.get("SURGE") or os.path.join(ROOT, "build", "surge")

_n = 0
_failed = 0


def ok(cond, name, detail=None, todo=None):
    """todo: why a failure is expected (a known defect): TAP's `# TODO`, which
    prove reports without failing the suite."""
    global _n, _failed
    _n += 1
    if not cond and not todo:
        _failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (_n, name)
          + (" # TODO %s" % todo if todo else ""), flush=True)
    if not cond and detail is not None:
        # On stderr: prove shows it without -v, so a CI log says why.
        # Named: tests run side by side (tests/run), their stderr interleaved.
        me = os.path.basename(sys.argv[0])
        print("# %s failed: %d - %s" % (me, _n, name), file=sys.stderr, flush=True)
        for line in str(detail).splitlines()[-40:]:
            print("# %s:   %s" % (me, line), file=sys.stderr, flush=True)
    return cond


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line, flush=True)


def done():
    print("1..%d" % _n, flush=True)
    sys.exit(1 if _failed else 0)


def skip_all(why):
    print("1..0 # SKIP " + why, flush=True)
    sys.exit(0)


def free_port(host="127.0.0.1", udp=False):
    """A port free for TCP (and for UDP too when udp: a DNS server binds
    both, and a port free for one may be taken for the other)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
            if not udp:
                return port
            try:
                with socket.socket(fam, socket.SOCK_DGRAM) as u:
                    u.bind((host, port))
                    return port
            except OSError:
                continue
    raise RuntimeError("no port free for both TCP and UDP on %s" % host)


def wait_file(path, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


def udp_tcp_pair(backlog=16):
    """(port, UDP socket, listening TCP socket) bound to one free port on
    127.0.0.1: a DNS server's two transports."""
    port = free_port(udp=True)
    usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    usock.bind(("127.0.0.1", port))
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(backlog)
    return port, usock, lsock


def udp_serve(sock, stop, reply):
    """Answers each datagram on sock with the datagrams reply(query) lists,
    until stop (a threading.Event) is set."""
    sock.settimeout(0.05)
    while not stop.is_set():
        try:
            q, peer = sock.recvfrom(4096)
        except socket.timeout:
            continue
        for r in reply(q):
            sock.sendto(r, peer)


def recv_exact(s, k):
    """k bytes from stream socket s, or None when the peer closes first."""
    b = b""
    while len(b) < k:
        d = s.recv(k - len(b))
        if not d:
            return None
        b += d
    return b


def wait_port(host, port, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """A background process stopped (SIGTERM, then SIGKILL) by pid at the end."""

    def __init__(self, argv, ready_file=None, ready_port=None, env=None):
        self.tmp = tempfile.mkdtemp(prefix="surge-e2e-")
        self.log = open(os.path.join(self.tmp, "server.log"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if ready_file and not wait_file(ready_file):
            raise RuntimeError("server did not become ready: %s" % argv)
        if ready_port and not wait_port(*ready_port):
            raise RuntimeError("server did not listen: %s" % argv)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


def surge(*args, timeout=120, env=None, input=None):
    """Runs the surge binary; returns (exit code, stdout, stderr)."""
    p = subprocess.run([SURGE] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout, env=env, input=input)
    return p.returncode, p.stdout, p.stderr


def run_json(*args, timeout=60):
    """surge run ARGS --json FILE -q: (exit code, the JSON report as a dict or
    None when none was written, stdout + stderr)."""
    import json
    path = os.path.join(tempfile.mkdtemp(prefix="surge-json-"), "r.json")
    rc, out, err = surge("run", *args, "--json", path, "-q", timeout=timeout)
    try:
        with open(path) as f:
            return rc, json.load(f), out + err
    except (OSError, ValueError):
        return rc, None, out + err


def children(parent):
    """The pids whose parent is `parent` (a coordinator's workers, a
    server's processes), in no particular order."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/stat" % pid) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == parent:
                        pids.append(int(pid))
            except (OSError, ValueError, IndexError):
                pass
    return pids


def proc_status(pid, field):
    """The number in a field of /proc/PID/status (e.g. "RssAnon" in KiB,
    "voluntary_ctxt_switches"), or None when it cannot be read."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, TypeError, ValueError):
        pass
    return None


def rss_anon_kib(pid):
    """A process's anonymous resident memory (RssAnon: what it allocated,
    not the shared libraries) in KiB, or None when it cannot be read."""
    return proc_status(pid, "RssAnon")


def write_scenario(text, name="scenario.lua"):
    d = tempfile.mkdtemp(prefix="surge-scn-")
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


_UNITS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def ns(text):
    """'468us' -> 468000.0; '-' (nothing measured) -> None."""
    if text == "-":
        return None
    for suffix in ("ns", "us", "ms", "s"):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * _UNITS[suffix]
    raise ValueError("not a duration: %r" % text)


def parse_report(text):
    """The text report as numbers: {'sent', 'completed', 'unfinished', 'errors',
    'error_classes': {class: n}, 'rows': {label: {'p50': ns, ...}}, ...}."""
    import re
    r = {"rows": {}, "error_classes": {}}
    m = re.search(r"sent (\d+)\s+completed (\d+)\s+unfinished (\d+)", text)
    if m:
        r["sent"], r["completed"], r["unfinished"] = map(int, m.groups())
    m = re.search(r"opened (\d+)\s+closed (\d+)\s+attempts (\d+)\s+peak open (\d+)", text)
    if m:
        r["opened"], r["closed"], r["attempts"], r["peak_open"] = map(int, m.groups())
    m = re.search(r"intended ([\d.]+)/s\s+achieved ([\d.]+)/s", text)
    if m:
        r["intended_rate"], r["achieved_rate"] = map(float, m.groups())
    m = re.search(r"throughput\s+([\d.]+) req/s", text)
    if m:
        r["throughput"] = float(m.group(1))
    cols = ["p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "stdev"]
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 10 and re.fullmatch(r"\d+", parts[-1]):
            label = " ".join(parts[:-9])
            try:
                vals = [ns(p) for p in parts[-9:-1]]
            except ValueError:
                continue
            row = dict(zip(cols, vals))
            row["count"] = int(parts[-1])
            r["rows"][label] = row
        m = re.match(r"\s*errors\s+(\d+)(.*)", line)
        if m:
            r["errors"] = int(m.group(1))
            for cls, n in re.findall(r"([a-z][a-z ]*?) (\d+)", m.group(2)):
                r["error_classes"][cls.strip()] = int(n)
    return r


class Serve(Server):
    """`surge serve PROTO` on a free port (127.0.0.1 unless listen= is given);
    .port; stop() returns the server's JSON report as a dict."""

    def __init__(self, proto, *args, listen="127.0.0.1:0", workers=1):
        import json  # noqa: F401
        tmp = tempfile.mkdtemp(prefix="surge-serve-")
        self.ready = os.path.join(tmp, "ready")
        self.report = os.path.join(tmp, "report.json")
        argv = [SURGE, "serve", proto, "--listen", listen, "-w", str(workers),
                "--ready-file", self.ready, "--report", self.report,
                "--exit-after", "600s"] + [str(a) for a in args]
        super().__init__(argv, ready_file=self.ready)
        with open(self.ready) as f:
            self.port = int(f.read().strip())

    def stop(self):
        import json
        log = super().stop()
        try:
            with open(self.report) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"log": log}


def established_by_source(port):
    """Client sockets the kernel shows established to 127.0.0.1:port, counted
    by source address (what `ss -tan | awk ...` would tell a user)."""
    import collections
    out = subprocess.run(["ss", "-Htan", "state", "established", "( dport = :%d )" % port],
                         capture_output=True, text=True).stdout
    return collections.Counter(line.split()[2].rsplit(":", 1)[0] for line in out.splitlines()
                               if len(line.split()) >= 4)


def held_scenario(port, conns, sources, connect_rate=20000, think="5s", duration="14s"):
    """A scenario that opens conns mostly idle echo connections to port from
    the source range sources = (first, last), and holds them."""
    return write_scenario("""
local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%d",
  protocol = echo.new { size = 16 },
  connections = %d,
  connect_rate = %d,
  think = "%s",          -- mostly idle: holding them is the point
  duration = "%s",
  connect_timeout = "10s",
  timeout = "30s",       -- an ASan server on a loaded machine answers in seconds
  bind = { "%s-%s" },
}
""" % (port, conns, connect_rate, think, duration, sources[0], sources[1]))


def counters(text):
    """The report's `counters` line as {name: n} (surge.count() and protocol counters)."""
    import re
    m = re.search(r"^\s*counters\s+(.*)$", text, re.M)
    return {k: int(v) for k, v in re.findall(r"(\S+) (-?\d+)", m.group(1))} if m else {}


def progress_lines(err):
    """[(second, completed/s, sent/s, intended/s, conns open)] from --progress."""
    import re
    rows = []
    for m in re.finditer(r"\[\s*(\d+)s\] (\S+) req/s\s+sent (\S+)/s of (\S+) intended.*?conns (\d+)/",
                         err):
        def num(t):
            return float(t[:-1]) * 1000 if t.endswith("k") else float(t)
        rows.append((int(m.group(1)), num(m.group(2)), num(m.group(3)), num(m.group(4)),
                     int(m.group(5))))
    return rows
