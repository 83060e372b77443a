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


def ok(cond, name, detail=None):
    global _n, _failed
    _n += 1
    if not cond:
        _failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (_n, name), flush=True)
    if not cond and detail is not None:
        for line in str(detail).splitlines()[-40:]:
            print("#   " + line, flush=True)
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


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_file(path, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


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


def write_scenario(text, name="scenario.lua"):
    d = tempfile.mkdtemp(prefix="surge-scn-")
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path
