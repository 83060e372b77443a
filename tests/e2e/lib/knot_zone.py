"""A real authoritative DNS server (Debian's knotd) for one small zone, on loopback.

    with Knot("surge.test", "farm A 127.0.0.2\\nfarm AAAA ::1\\n") as k:
        ... resolver = { servers = {"127.0.0.1:%d" % k.port} } ...
        k.reload("farm A 127.0.0.9\\n")   # new serial, knotc zone-reload, waits

Records are zone-file lines relative to the zone (SOA and NS are added).
Minimal on purpose; the same API as the dns helper's tests/e2e/lib/knot.py, so
either can replace the other.
"""
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"
KNOTC = shutil.which("knotc") or "/usr/sbin/knotc"


def available():
    return os.path.exists(KNOTD) and os.path.exists(KNOTC)


def _free_udp_tcp_port(host):
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def query(host, port, name, qtype=1, timeout=1.0):
    """One UDP query; returns (rcode, answer count) or None on no answer."""
    qid = os.getpid() & 0xFFFF
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack("!HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, (host, port))
        try:
            r = s.recv(4096)
        except OSError:
            return None
    return r[3] & 0x0F, struct.unpack("!H", r[6:8])[0]


class Knot:
    def __init__(self, zone_name, records_text, port=None, host="127.0.0.1"):
        self.zone = zone_name.rstrip(".")
        self.host = host
        self.port = port or _free_udp_tcp_port(host)
        self.serial = 1
        self.dir = tempfile.mkdtemp(prefix="surge-knot-")
        self.conf = os.path.join(self.dir, "knot.conf")
        self.zonefile = os.path.join(self.dir, self.zone + ".zone")
        self._write_zone(records_text)
        with open(self.conf, "w") as f:
            f.write(
                'server:\n'
                '    rundir: "%(d)s"\n'
                '    listen: %(h)s@%(p)d\n'
                'control:\n'
                '    listen: "%(d)s/knot.sock"\n'
                'database:\n'
                '    storage: "%(d)s"\n'
                'log:\n'
                '  - target: stderr\n'
                '    any: info\n'
                'template:\n'
                '  - id: default\n'
                '    storage: "%(d)s"\n'
                '    zonefile-sync: -1\n'
                '    journal-content: none\n'
                'zone:\n'
                '  - domain: %(z)s\n'
                '    file: "%(zf)s"\n'
                % {"d": self.dir, "h": host, "p": self.port, "z": self.zone, "zf": self.zonefile})
        self.log = open(os.path.join(self.dir, "knotd.log"), "w+")
        self.proc = subprocess.Popen([KNOTD, "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if not self._wait_serial(self.serial):
            log = self.stop()
            raise RuntimeError("knotd did not serve %s:\n%s" % (self.zone, log))

    def _write_zone(self, records_text):
        with open(self.zonefile, "w") as f:
            f.write("$ORIGIN %s.\n$TTL 1\n" % self.zone)
            f.write("@ SOA ns admin %d 60 60 600 1\n" % self.serial)
            f.write("@ NS ns\nns A 127.0.0.1\n")
            f.write(records_text.rstrip("\n") + "\n")

    def _soa_serial(self):
        """The SOA serial knot serves, by TCP so it also proves TCP works."""
        q = struct.pack("!HHHHHH", 7, 0, 1, 0, 0, 0)
        for label in self.zone.split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\0" + struct.pack("!HH", 6, 1)
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                s.sendall(struct.pack("!H", len(q)) + q)
                n = struct.unpack("!H", s.recv(2))[0]
                r = b""
                while len(r) < n:
                    chunk = s.recv(n - len(r))
                    if not chunk:
                        return None
                    r += chunk
        except OSError:
            return None
        if struct.unpack("!H", r[6:8])[0] < 1:
            return None
        # The serial is the first 4 bytes after the two names of SOA RDATA;
        # with compression they end with pointers: it is simplest to take the
        # 20 bytes of counters at the end of the answer's RDATA.
        rdlen_end = len(r)
        # answer is the only RR (no additional with this query): RDATA runs to the end
        return struct.unpack("!I", r[rdlen_end - 20:rdlen_end - 16])[0]

    def _wait_serial(self, serial, timeout=20.0):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            if self._soa_serial() == serial:
                return True
            time.sleep(0.05)
        return False

    def reload(self, records_text):
        """Replaces the zone's records; returns once knot serves them."""
        self.serial += 1
        self._write_zone(records_text)
        subprocess.run([KNOTC, "-c", self.conf, "zone-reload", self.zone],
                       capture_output=True, timeout=20)
        if not self._wait_serial(self.serial):
            raise RuntimeError("knotd did not load serial %d" % self.serial)

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
        text = self.log.read()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return text

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
