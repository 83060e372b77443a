"""A Knot DNS server for end-to-end tests: one small zone on a loopback port.

    with Knot("example.test", "www A 192.0.2.1\\n") as k:
        ... k.port ...                  # knotd answers on 127.0.0.1:k.port (UDP and TCP)
        k.reload("www A 192.0.2.2\\n")  # new zone contents, serial bumped, waits until loaded

records_text is zone-file text relative to the zone (names without a dot are
under it); the SOA and NS records are written for you. knotd runs from a temp
dir (config, zone, rundir, control socket) with TCP limits raised for load tests
(tcp-max-clients, tcp-idle-timeout: see /work/shared/PEERS.md) and is stopped by
its process id. Knot.available() says whether knotd is installed.
"""
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

from tap import free_port  # noqa: E402

KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"
KNOTC = shutil.which("knotc") or "/usr/sbin/knotc"


def _free_port():
    # knotd binds UDP and TCP on its port.
    return free_port(udp=True)


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def tcp_query(port, name, qtype=1, host="127.0.0.1", timeout=2.0, qid=0x5151):
    """One DNS query over TCP (RFC 1035 §4.2.2). Returns (rcode, ancount) or raises OSError."""
    msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + struct.pack(">HH", qtype, 1)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack(">H", len(msg)) + msg)
        hdr = _recv_exact(s, 2)
        (n,) = struct.unpack(">H", hdr)
        body = _recv_exact(s, n)
    if len(body) < 12:
        raise OSError("short DNS answer")
    rid, flags, _qd, an = struct.unpack(">HHHH", body[:8])
    if rid != qid:
        raise OSError("DNS answer with another ID")
    return flags & 15, an


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


class Knot:
    def __init__(self, zone_name, records_text, port=None, tcp_max_clients=20000,
                 tcp_idle_timeout=3600, workers=1):
        self.zone = zone_name.rstrip(".")
        self.port = port or _free_port()
        self.serial = 1
        self.dir = tempfile.mkdtemp(prefix="surge-knot-")
        self.conf = os.path.join(self.dir, "knot.conf")
        self.zonefile = os.path.join(self.dir, self.zone + ".zone")
        self.logpath = os.path.join(self.dir, "knotd.log")
        self.proc = None
        self._write_zone(records_text)
        with open(self.conf, "w") as f:
            f.write(f"""server:
    rundir: "{self.dir}"
    listen: 127.0.0.1@{self.port}
    tcp-max-clients: {tcp_max_clients}
    tcp-idle-timeout: {tcp_idle_timeout}
    tcp-workers: {workers}
    udp-workers: 1
    background-workers: 1
database:
    storage: "{self.dir}"
control:
    listen: "{self.dir}/knot.sock"
log:
  - target: stderr
    any: notice
template:
  - id: default
    storage: "{self.dir}"
    file: "%s.zone"
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: {self.zone}.
""")
        self.start()

    @staticmethod
    def available():
        return os.access(KNOTD, os.X_OK)

    def _write_zone(self, records_text):
        z = self.zone
        with open(self.zonefile, "w") as f:
            f.write(f"$ORIGIN {z}.\n$TTL 300\n"
                    f"@ SOA ns.{z}. hostmaster.{z}. {self.serial} 3600 900 604800 300\n"
                    f"@ NS ns.{z}.\nns A 127.0.0.1\n{records_text}\n")

    def _soa_ok(self):
        try:
            rcode, an = tcp_query(self.port, self.zone + ".", 6, timeout=0.5)
            return rcode == 0 and an == 1
        except OSError:
            return False

    def start(self, timeout=20.0):
        self.log = open(self.logpath, "a+")
        self.proc = subprocess.Popen([KNOTD, "-c", self.conf], stdout=self.log, stderr=subprocess.STDOUT)
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("knotd exited (%s): %s" % (self.proc.returncode, self.read_log()))
            if self._soa_ok():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("knotd did not answer on port %d: %s" % (self.port, self.read_log()))

    def reload(self, records_text, timeout=20.0):
        """Replaces the zone's records; returns once knotd serves the new serial."""
        self.serial += 1
        self._write_zone(records_text)
        subprocess.run([KNOTC, "-c", self.conf, "-b", "zone-reload", self.zone + "."],
                       capture_output=True, timeout=timeout)
        end = time.time() + timeout
        want = struct.pack(">I", self.serial)
        while time.time() < end:
            if self._serial_bytes() == want:
                return
            time.sleep(0.05)
        raise RuntimeError("knotd did not load serial %d: %s" % (self.serial, self.read_log()))

    def _serial_bytes(self):
        # The SOA's serial: the answer's RDATA after MNAME and RNAME.
        msg = struct.pack(">HHHHHH", 7, 0, 1, 0, 0, 0) + encode_name(self.zone) + struct.pack(">HH", 6, 1)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(struct.pack(">H", len(msg)) + msg)
                (n,) = struct.unpack(">H", _recv_exact(s, 2))
                body = _recv_exact(s, n)
        except OSError:
            return None
        # SOA RDATA ends with serial, refresh, retry, expire, minimum (5 x 4 bytes).
        return body[-20:-16] if len(body) > 40 else None

    def read_log(self):
        try:
            with open(self.logpath) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
