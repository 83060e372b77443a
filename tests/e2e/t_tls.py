#!/usr/bin/env python3
"""TLS below every protocol: DNS over TLS against a real unbound (answers as
over TCP, verification with the right CA, a wrong name refused and named,
--insecure said in the report, a plaintext port and a stalled handshake
counted in their class within the connect timeout, resumption across
reconnects), echo and RTSP readers over TLS against `surge serve --tls-cert`
(no loss, resumption when the server closes connections)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import reports  # noqa: E402
from tap import Serve, Server, diag, done, free_port, ok, skip_all, surge, write_scenario  # noqa: E402

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
if not os.path.exists(UNBOUND) or not shutil.which("openssl"):
    skip_all("unbound and openssl are needed (make deps)")

TMP = tempfile.mkdtemp(prefix="surge-tls-")
CERT, KEY = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
OTHER = os.path.join(TMP, "other.pem")  # a CA that did not sign the server's certificate


def make_cert(cert, key, name):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % name],
                   check=True, capture_output=True)


make_cert(CERT, KEY, "dot.test")
make_cert(OTHER, os.path.join(TMP, "other.key"), "other.test")

TCP_PORT, TLS_PORT = free_port(), free_port()
with open(os.path.join(TMP, "unbound.conf"), "w") as f:
    f.write("""server:
  interface: 127.0.0.1@%(tcp)d
  interface: 127.0.0.1@%(tls)d
  tls-port: %(tls)d
  tls-service-key: "%(key)s"
  tls-service-pem: "%(cert)s"
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "%(tmp)s"
  pidfile: ""
  use-syslog: no
  logfile: ""
  num-threads: 1
  incoming-num-tcp: 100
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "test." static
  local-data: "a.test. 60 IN A 10.0.0.1"
  local-data: "b.test. 60 IN A 10.0.0.2"
remote-control:
  control-enable: no
""" % dict(tcp=TCP_PORT, tls=TLS_PORT, key=KEY, cert=CERT, tmp=TMP))

DOT = """
local dns = require "surge.proto.dns"
return {
  target = "%(target)s",
  tls = { ca = "%(ca)s", alpn = { "dot" }, min_version = "1.2" },
  protocol = dns.tcp { queries = { "a.test A", "b.test A", "nx.test A" }, pipeline = 4 },
  connections = 4, duration = "%(duration)s", workers = 1, connect_timeout = "2s",
}
"""

# A session that asks three questions, then closes: every connection after
# the first can resume.
CHURN = """
local surge = require "surge"
local function query(id)
  local q = string.char(0, id, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0) .. "\\1a\\4test\\0\\0\\1\\0\\1"
  return string.char(0, #q) .. q
end
return {
  target = "tls://127.0.0.1:%(port)d",
  tls = { ca = "%(ca)s", resume = %(resume)s },
  protocol = { name = "dot-churn", session = function(conn)
    for i = 1, 3 do
      if not conn:send(query(i)) then return end
      local len = conn:read(2)
      if not len then return end
      if not conn:read(len:byte(1) * 256 + len:byte(2)) then return end
      surge.count("churn.answers")
    end
  end },
  connections = 4, duration = "1500ms", workers = 1,
}
"""


def run(scn_text, *args, timeout=60):
    js = os.path.join(tempfile.mkdtemp(prefix="surge-tls-json-"), "r.json")
    scn = write_scenario(scn_text)
    t0 = time.time()
    rc, out, err = surge("run", scn, "--json", js, *args, timeout=timeout)
    took = time.time() - t0
    try:
        with open(js) as f:
            rep = json.load(f)
    except (OSError, ValueError):
        rep = {"counters": {}, "histograms": {}, "totals": {"errors": {"by_class": {}}}}
    return rc, out, err, rep, took


def classes(rep):
    return rep.get("totals", {}).get("errors", {}).get("by_class", {})


def hist_count(rep, name):
    return rep.get("histograms", {}).get(name, {}).get("count", 0)


ub = Server([UNBOUND, "-d", "-c", os.path.join(TMP, "unbound.conf")],
            ready_port=("127.0.0.1", TLS_PORT))
try:
    # 0. The peer as kdig sees it: the answer surge's run must match.
    kd = subprocess.run(["kdig", "+tls-ca=" + CERT, "+tls-hostname=dot.test", "@127.0.0.1",
                         "-p", str(TLS_PORT), "a.test", "A", "+short"],
                        capture_output=True, text=True, timeout=20) if shutil.which("kdig") else None
    if kd is not None:
        ok(kd.stdout.strip() == "10.0.0.1", "kdig +tls gets a.test = 10.0.0.1 from unbound's DoT port",
           kd.stdout + kd.stderr)

    # 1. DNS over TLS, verified with the right CA: answers as over TCP.
    rc, out, err, rep, _ = run(DOT % dict(target="tls://127.0.0.1:%d" % TLS_PORT, ca=CERT,
                                          duration="1500ms"))
    c = rep.get("counters", {})
    ok(rc == 0, "DoT run against unbound exits 0", out + err)
    done_n = rep.get("totals", {}).get("requests", {}).get("completed", 0)
    ok(done_n > 100 and rep["totals"]["errors"]["total"] == 0,
       "answers completed over TLS, no errors (%d)" % done_n, rep.get("totals"))
    noerr, nx = c.get("dns.rcode.NOERROR", 0), c.get("dns.rcode.NXDOMAIN", 0)
    ok(noerr + nx == done_n and abs(noerr - 2 * nx) <= 8,
       "rcodes as unbound answers them: a/b NOERROR, nx NXDOMAIN, 2:1 (%d, %d)" % (noerr, nx), c)
    ok(c.get("dns.answers.with_records", 0) == noerr, "every NOERROR carries its A record", c)
    opened = rep["totals"]["connections"]["opened"]
    ok(hist_count(rep, "tls_handshake") == opened == c.get("tls.full", 0) + c.get("tls.resumed", 0),
       "tls_handshake histogram and tls.full + tls.resumed count every connection (%d)" % opened, c)
    ok(c.get("tls.version.TLSv1.3", 0) == opened and
       any(k.startswith("tls.cipher.TLS_") for k in c), "negotiated version and cipher counted", c)
    ok(rep.get("run", {}).get("tls", {}).get("verify") is True and "NOT VERIFIED" not in err + out,
       "the report says the certificate was verified", rep.get("run"))
    why = reports.validate(rep)
    ok(why is None, "the JSON report of a TLS run validates against the v1 schema", why)

    # The same queries over plain TCP: the same rcode mix.
    rc2, out2, err2, rep2, _ = run(DOT % dict(target="tcp://127.0.0.1:%d" % TCP_PORT, ca=CERT,
                                              duration="1s"), "-o", "tls=false")
    c2 = rep2.get("counters", {})
    ok(rc2 == 0 and c2.get("dns.rcode.NOERROR", 0) > 0 and
       abs(c2["dns.rcode.NOERROR"] - 2 * c2.get("dns.rcode.NXDOMAIN", 0)) <= 8
       and not any(k.startswith("tls.") for k in c2),
       "over plain TCP: the same answers, no TLS counters", c2)

    # 2. A name the certificate does not carry: tls_verify, both names said.
    rc, out, err, rep, took = run(DOT % dict(target="tls://127.0.0.1:%d" % TLS_PORT, ca=CERT,
                                             duration="1s"), "--sni", "wrong.test")
    ok(rc == 1 and classes(rep).get("tls_verify", 0) > 0 and
       rep["totals"]["connections"]["opened"] == 0,
       "wrong --sni: every connection refused as tls_verify (%d)" % classes(rep).get("tls_verify", 0),
       err)
    ok(re.search(r"expected wrong\.test, presented DNS:dot\.test, IP:127\.0\.0\.1", err) is not None,
       "the reason names the expected and the presented names", err)
    ok(len(re.findall(r"TLS verify failed", err)) == 1, "the reason is printed once", err)

    # The right name through --sni on an address target verifies.
    rc, out, err, rep, _ = run(DOT % dict(target="tls://127.0.0.1:%d" % TLS_PORT, ca=CERT,
                                          duration="1s"), "--sni", "dot.test")
    ok(rc == 0 and rep["totals"]["errors"]["total"] == 0, "--sni dot.test verifies", err)

    # 3. A CA that did not sign it.
    rc, out, err, rep, _ = run(DOT % dict(target="tls://127.0.0.1:%d" % TLS_PORT, ca=OTHER,
                                          duration="1s"))
    ok(rc == 1 and classes(rep).get("tls_verify", 0) > 0 and "self-signed certificate" in err,
       "a certificate the CA did not sign: tls_verify, reason printed", err)

    # A CA file that holds no certificate: refused before any traffic.
    rc, out, err, rep, _ = run(DOT % dict(target="tls://127.0.0.1:%d" % TLS_PORT,
                                          ca=os.path.join(TMP, "unbound.conf"), duration="1s"))
    ok(rc == 2 and "cannot load CA certificates from" in err, "a CA file without certificates: exit 2", err)

    # 4. --insecure: no check, and the report says so.
    rc, out, err, rep, _ = run(DOT % dict(target="tls://127.0.0.1:%d" % TLS_PORT, ca=OTHER,
                                          duration="1s"), "--insecure", "--sni", "wrong.test")
    ok(rc == 0 and rep["totals"]["errors"]["total"] == 0, "--insecure connects without a check", err)
    ok("NOT VERIFIED (--insecure)" in out and "certificates NOT verified" in out and
       rep.get("run", {}).get("tls", {}).get("verify") is False,
       "the report says the certificate was not verified", out + err)

    # 5. tls:// to a plaintext DNS port: the server waits for a 5635-byte
    # query; the handshake fails within the connect timeout, never hangs.
    rc, out, err, rep, took = run(DOT % dict(target="tls://127.0.0.1:%d" % TCP_PORT, ca=CERT,
                                             duration="1s"), "-o", "connect_timeout=1s")
    ok(rc == 1 and classes(rep).get("tls_handshake", 0) > 0 and
       classes(rep).get("connect_timeout", 0) == 0 and "no handshake within" in err,
       "a plaintext port on a tls:// target: tls_handshake errors (%d)"
       % classes(rep).get("tls_handshake", 0), err)

    # 6. Resumption across reconnects: each session asks 3 questions and closes.
    rc, out, err, rep, _ = run(CHURN % dict(port=TLS_PORT, ca=CERT, resume="true"))
    c = rep.get("counters", {})
    diag("churn: %d full, %d resumed handshakes" % (c.get("tls.full", 0), c.get("tls.resumed", 0)))
    ok(rc == 0 and c.get("churn.answers", 0) > 0, "a session protocol runs over TLS", err)
    ok(c.get("tls.resumed", 0) > c.get("tls.full", 0) > 0,
       "reconnects resume: more resumed than full handshakes", c)
    # A TLS 1.3 ticket resumes once in OpenSSL; those unbound sends after
    # each handshake, and the newest lent again, cover every reconnect.
    # (A connection that opens after another got its ticket resumes at once.)
    ok(1 <= c.get("tls.full", 0) <= 4, "only the 4 connections' first handshakes are full", c)
    ok(hist_count(rep, "tls_handshake.resumed") == c.get("tls.resumed", 0) and
       hist_count(rep, "tls_handshake.full") == c.get("tls.full", 0),
       "full and resumed handshakes timed apart", rep.get("histograms", {}).keys())
    rc, out, err, rep, _ = run(CHURN % dict(port=TLS_PORT, ca=CERT, resume="false"))
    c = rep.get("counters", {})
    ok(rc == 0 and c.get("tls.resumed", 1) == 0 and c.get("tls.full", 0) > 3,
       "resume = false: every handshake is full", c)
finally:
    ub.stop()

# 7. Echo over TLS against surge's own server, then with the server closing
# every connection after 10 answers (2 workers: tickets resume on either).
ECHO = """
local echo = require "surge.proto.echo"
return {
  target = "tls://127.0.0.1:%(port)d", tls = { ca = "%(ca)s", sni = "dot.test" },
  protocol = echo.new { size = 300, pipeline = %(pipeline)d },
  connections = 8, duration = "1s", workers = 2, connect_timeout = "%(ct)s",
}
"""


def echo(srv, pipeline=8, ct="5s"):
    return ECHO % dict(port=srv.port, ca=CERT, pipeline=pipeline, ct=ct)


srv = Serve("echo", "--tls-cert", CERT, "--tls-key", KEY, workers=2)
rc, out, err, rep, _ = run(echo(srv))
seen = srv.stop()
t = rep.get("totals", {})
ok(rc == 0 and t.get("errors", {}).get("total") == 0 and t["requests"]["completed"] > 1000,
   "echo over TLS: answers, no errors (%d)" % t.get("requests", {}).get("completed", 0), err)
ok(seen.get("bytes_in") == seen.get("bytes_out") >= 300 * t["requests"]["completed"] and
   seen.get("tls_failures") == 0 and seen.get("accepted") == 8,
   "the server echoed every byte of them, no failed handshakes", seen)

srv = Serve("echo", "--tls-cert", CERT, "--tls-key", KEY, "--close-after", "10", workers=2)
rc, out, err, rep, _ = run(echo(srv, pipeline=1))
srv.stop()
c = rep.get("counters", {})
diag("close-after churn: %d full, %d resumed" % (c.get("tls.full", 0), c.get("tls.resumed", 0)))
ok(c.get("tls.resumed", 0) > 2 * c.get("tls.full", 0) > 0,
   "the server closing connections: reconnects resume", c)
ok(c.get("tls.full", 0) <= 8, "only the 8 connections' first handshakes are full, however many "
   "reconnect at once (%d)" % c.get("tls.full", 0), c)
ok(set(k for k, v in classes(rep).items() if v) <= {"unexpected_close"},
   "the closes are counted as unexpected closes only", classes(rep))

# 8. A server that never reads: the handshake stalls, counted within the
# connect timeout.
srv = Serve("echo", "--tls-cert", CERT, "--tls-key", KEY, "--never-read")
rc, out, err, rep, took = run(echo(srv, ct="500ms"))
srv.stop()
ok(rc == 1 and classes(rep).get("tls_handshake", 0) > 0,
   "a stalled handshake: tls_handshake errors, no hang (%.1f s)" % took, err)

# A plaintext echo server answers the ClientHello with itself: tls_handshake,
# the library's reason printed.
srv = Serve("echo")
rc, out, err, rep, _ = run(echo(srv))
srv.stop()
ok(rc == 1 and classes(rep).get("tls_handshake", 0) > 0 and "TLS handshake failed with" in err,
   "a plaintext echo server on a tls:// target: tls_handshake errors (%d)"
   % classes(rep).get("tls_handshake", 0), err)

# Mutual TLS: a server that requires a client certificate (test.pem signs
# itself, so it is its own CA) takes one, and refuses a client without.
srv = Serve("echo", "--tls-cert", CERT, "--tls-key", KEY, "--tls-client-ca", CERT)
MTLS = echo(srv).replace('sni = "dot.test" }', 'sni = "dot.test", cert = "%s", key = "%s" }' % (CERT, KEY))
rc, out, err, rep, _ = run(MTLS)
ok(rc == 0 and rep["totals"]["errors"]["total"] == 0, "mutual TLS: the client certificate is taken", err)
rc, out, err, rep, _ = run(echo(srv))
srv.stop()
ok(rc == 1 and classes(rep).get("tls_handshake", 0) > 0 and "alert certificate required" in err,
   "without a client certificate: tls_handshake, the server's alert named (TLS 1.3 says it "
   "after the client's handshake)", err)

# 9. RTSP readers over rtsps:// against surge serve rtsp --tls (a certificate
# it makes, written beside the ready file): zero loss.
srv = Serve("rtsp", "--tls", "--bitrate", "200k")
SELF_CA = srv.ready + ".ca.pem"
RTSP = """
local rtsp = require "surge.proto.rtsp"
return {
  target = "rtsps://127.0.0.1:%d/live/cam", tls = { ca = "%s" },
  protocol = rtsp.reader { watch = "2s" },
  connections = 10, duration = "3s", workers = 1,
}
""" % (srv.port, SELF_CA)
rc, out, err, rep, _ = run(RTSP)
seen = srv.stop()
c = rep.get("counters", {})
ok(rc == 0 and c.get("rtsp.watched", 0) == 10 and rep["totals"]["errors"]["total"] == 0,
   "10 RTSP readers over TLS watched to the end (%d; exit %d, errors %s)"
   % (c.get("rtsp.watched", 0), rc, classes(rep)), err)
# Zero loss is the sequence numbers' verdict; what the server sent and the
# readers had not read when the run stopped (more on a busy machine) is
# never more than it sent.
ok(c.get("rtsp.lost", 0) == 0 and c.get("rtsp.reordered", 0) == 0 and
   0 < c.get("rtsp.packets", 0) <= seen.get("packets", 0) and
   c.get("rtsp.bytes", 0) == 1200 * c.get("rtsp.packets", 0),
   "zero loss, no reordering: %d packets read of the %d sent (the rest in flight at the stop)"
   % (c.get("rtsp.packets", 0), seen.get("packets", 0)), c)
# 10. DNS over TLS against surge serve dns --tls, by name (localhost).
srv = Serve("dns", "--tls")
rc, out, err, rep, _ = run(DOT.replace("tls = { ca", "tls = { sni = \"localhost\", ca") % dict(
    target="tls://127.0.0.1:%d" % srv.port, ca=srv.ready + ".ca.pem", duration="1s"))
seen = srv.stop()
c = rep.get("counters", {})
ok(rc == 0 and rep["totals"]["errors"]["total"] == 0 and c.get("dns.rcode.NOERROR", 0) > 0
   and c.get("tls.full", 0) == 4, "DoT against surge serve dns --tls, verified by name", err)
done()
