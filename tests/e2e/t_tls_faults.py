#!/usr/bin/env python3
"""surge run against every `surge serve --tls --tls-fault MODE` (issue 13), for
echo, dns and rtsp: a certificate the client must refuse (untrusted, for
another name, expired) is counted as `tls verify` with the library's reason;
a server that never answers the handshake, or speaks plaintext on the TLS
port, as `tls handshake`. Each within the connect timeout (every connection
refused and retried at least twice in the run, never a hang), the reason
printed once, exit code 1 (nothing measured), the accounting law (completed +
unfinished <= sent <= completed + unfinished + errors), and the server's own
counts agreeing with the client's."""
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import ROOT, Serve, done, ok, surge, write_scenario  # noqa: E402

QUERIES = os.path.join(ROOT, "scenarios", "data", "queries.txt")
CONNS = 4

PROTOS = {
    "echo": ('tls://127.0.0.1:%(port)d', 'local echo = require "surge.proto.echo"',
             'echo.new { size = 64, verify = true }'),
    "dns": ('tls://127.0.0.1:%(port)d', 'local dns = require "surge.proto.dns"',
            'dns.tcp { queries = "%s", pipeline = 4 }' % QUERIES),
    "rtsp": ('rtsps://127.0.0.1:%(port)d/live', 'local rtsp = require "surge.proto.rtsp"',
             'rtsp.reader { transport = "tcp", watch = "1s" }'),
}

SCENARIO = """
%(require)s
return {
  target = "%(target)s",
  tls = { ca = "%(ca)s"%(sni)s },
  protocol = %(protocol)s,
  connections = %(conns)d, duration = "2s", workers = 1,
  connect_timeout = "%(ct)s", timeout = "1s",
}
"""

# mode -> (class, reason the client prints; with sni = "localhost")
EXPECT = {
    "untrusted": ("tls_verify", "self-signed certificate"),
    "wrong-name": ("tls_verify", "hostname mismatch: expected localhost, "
                                 "presented DNS:wrong-name.invalid"),
    "expired": ("tls_verify", "certificate has expired"),
    "stall": ("tls_handshake", "no handshake within the connect timeout (0.5 s)"),
    # plaintext: echo sends the ClientHello back, rtsp answers it with a 400,
    # dns waits for the 5635 bytes its first two bytes announce.
    "plaintext": ("tls_handshake", None),
}
PLAINTEXT_REASON = {
    "echo": "unexpected message",
    "rtsp": "wrong version number",
    "dns": "no handshake within the connect timeout (0.5 s)",
}


def run(proto, mode, sni="localhost", ct="5s"):
    """ct: the connect timeout; a short one only where it is the expected
    failure (a handshake slower than it, on an ASan build on a busy machine,
    would be counted as what it is: a timeout)."""
    srv = Serve(proto, "--tls", "--tls-fault", mode)
    target, require, protocol = PROTOS[proto]
    scn = write_scenario(SCENARIO % dict(
        require=require, target=target % dict(port=srv.port), ca=srv.ready + ".ca.pem",
        sni=', sni = "%s"' % sni if sni else "", protocol=protocol, conns=CONNS, ct=ct))
    js = os.path.join(tempfile.mkdtemp(prefix="surge-tls-faults-"), "r.json")
    rc, out, err = surge("run", scn, "--no-progress", "--json", js, timeout=60)
    seen = srv.stop()
    try:
        with open(js) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        doc = {}
    return rc, out, err, doc, seen


def check(proto, mode, rc, out, err, doc, seen, cls, reason):
    name = "%s --tls-fault %s" % (proto, mode)
    t = doc.get("totals", {})
    req, conns = t.get("requests", {}), t.get("connections", {})
    errs = t.get("errors", {})
    by = errs.get("by_class", {})
    n = by.get(cls, 0)
    others = {k: v for k, v in by.items() if v and k != cls}
    ok(rc == 1, "%s: exit 1, nothing measured (%d)" % (name, rc), out + err)
    ok(n >= 2 * CONNS and not others and conns.get("opened", -1) == 0,
       "%s: only %s errors, each connection refused and retried at least twice within the "
       "connect timeout (%d, others %s)" % (name, cls, n, others), out + err)
    s, c, u, e = req.get("sent", -1), req.get("completed", -1), req.get("unfinished", -1), \
        errs.get("total", -1)
    ok(0 <= c + u <= s <= c + u + e, "%s: completed %d + unfinished %d <= sent %d <= ... + errors %d"
       % (name, c, u, s, e), t)
    label = "verify" if cls == "tls_verify" else "handshake"
    held = doc.get("outcome", {}).get("connections_held", {})
    note = "%d connects failed: %s %d" % (n, label.join(("tls ", "")), n)
    ok(held.get("peak_open") == 0 and note in (held.get("note") or ""),
       "%s: nothing held, and the note says why: %s" % (name, note), held)
    lines = re.findall(r"TLS %s failed with 127\.0\.0\.1:\d+: (.*)" % label, err)
    ok(len(lines) == 1 and reason in lines[0],
       "%s: the library's reason printed once: %s" % (name, reason), err)
    if cls == "tls_verify":
        # The client's alert ends the server's handshake; those cut off by
        # the end of the run fail there too.
        ok(n <= seen.get("tls_failures", -1) <= n + CONNS and seen.get("replies", -1) == 0,
           "%s: the server saw the %d handshakes fail, answered nothing (%s)"
           % (name, n, seen.get("tls_failures")), seen)
    elif mode == "stall":
        ok(n <= seen.get("tls_stalled", -1) <= n + CONNS and seen.get("tls_failures", -1) == 0
           and seen.get("bytes_out", -1) == 0,
           "%s: the server held %s handshakes, wrote nothing" % (name, seen.get("tls_stalled")), seen)
    else:
        ok(seen.get("tls_failures", -1) == 0 and seen.get("tls_stalled", -1) == 0 and
           seen.get("accepted", 0) >= n,
           "%s: the server spoke no TLS at all (accepted %s)" % (name, seen.get("accepted")), seen)


for proto in ("echo", "dns", "rtsp"):
    for mode, (cls, reason) in EXPECT.items():
        reason = reason or PLAINTEXT_REASON[proto]
        rc, out, err, doc, seen = run(proto, mode, ct="500ms" if "connect timeout" in reason else "5s")
        check(proto, mode, rc, out, err, doc, seen, cls, reason)

# An address target without sni is checked against the certificate's IP
# names: the wrong-name certificate has none.
rc, out, err, doc, seen = run("echo", "wrong-name", sni=None)
check("echo", "wrong-name (no sni)", rc, out, err, doc, seen, "tls_verify",
      "IP address mismatch: expected 127.0.0.1, presented DNS:wrong-name.invalid")

# The modes are checked before anything listens: exit 2 saying what to do.
rc, out, err = surge("serve", "echo", "--listen", "127.0.0.1:0", "--tls", "--tls-fault", "bogus")
ok(rc == 2 and "expected untrusted, wrong-name, expired, stall or plaintext" in err,
   "an unknown --tls-fault: exit 2, the modes listed", err)
rc, out, err = surge("serve", "echo", "--listen", "127.0.0.1:0", "--tls-fault", "stall")
ok(rc == 2 and "--tls-fault stall needs --tls or --tls-cert/--tls-key" in err,
   "--tls-fault without TLS: exit 2", err)
cert = os.path.join(tempfile.mkdtemp(prefix="surge-tls-faults-"), "none.pem")
rc, out, err = surge("serve", "echo", "--listen", "127.0.0.1:0", "--tls-cert", cert,
                     "--tls-key", cert, "--tls-fault", "expired")
ok(rc == 2 and "--tls-fault expired needs --tls (the server makes the certificate it breaks" in err,
   "a certificate fault with --tls-cert: exit 2", err)
rc, out, err = surge("serve", "echo", "--listen", "127.0.0.1:0", "--tls", "--tls-fault", "expired",
                     "--ready-file", "/nonexistent/surge/ready")
ok(rc == 2 and "cannot write the certificate to /nonexistent/surge/ready.ca.pem: No such file" in err,
   "a CA that cannot be written: exit 2, the path and why", err)
rc, out, err = surge("serve", "echo", "--help")
ok(rc == 0 and all(m in out for m in ("--tls-fault MODE", "untrusted", "wrong-name", "expired",
                                       "stall", "plaintext")),
   "surge serve --help documents --tls-fault and its modes", out)
done()
