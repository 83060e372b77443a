#!/usr/bin/env python3
"""surge.proto.http against Debian's nginx on loopback (config written to a
temp dir, stopped by pid): answers counted by status and class match nginx's
access log line for line, keepalive_requests closes are graceful (counted as
http.closed_by_server, reconnected, 0 errors), chunked gzip and HEAD framed,
body bytes match what nginx logged, a pipeline loses only the requests it
had in flight at a close. Then hostile answers from a small Python server:
each counted as a protocol error with its reason, and surge carries on."""
import csv
import json
import os
import socket
import socketserver
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from nginx import Nginx  # noqa: E402
from tap import run_json as run, diag, done, ok, skip_all, surge, write_scenario  # noqa: E402

if not Nginx.available():
    skip_all("nginx is not installed (make deps)")



def totals(r):
    return r["totals"]["requests"], r["totals"]["errors"], r["counters"]


with Nginx(keepalive_requests=10) as ngx:
    base = "http://127.0.0.1:%d" % ngx.port

    # 1. The URL form, wrk's first command: status counts = nginx's lines.
    rc, r, log = run(base + "/index.html", "-c", "8", "-d", "2s")
    ok(rc == 0 and r is not None, "surge run URL runs", log)
    req, errs, cnt = totals(r)
    lines = ngx.access_lines()
    ok(req["completed"] > 1000, "answers completed: %d" % req["completed"])
    ok(req["completed"] <= len(lines) <= req["completed"] + req["unfinished"],
       "nginx logged every answer surge counted: %d lines, %d completed, %d unfinished"
       % (len(lines), req["completed"], req["unfinished"]))
    ok(cnt.get("http.status.200") == req["completed"] == cnt.get("http.status.2xx"),
       "http.status.200 and 2xx = completed", cnt)
    ok(errs["total"] == 0, "keepalive_requests 10: 0 errors", errs)
    closes = cnt.get("http.closed_by_server", 0)
    ok(abs(closes - len(lines) // 10) <= 8,
       "http.closed_by_server = one per 10 answers per connection: %d for %d lines"
       % (closes, len(lines)))
    conns = r["totals"]["connections"]["opened"]
    ok(conns >= closes, "each close reconnected: %d opened, %d closed by the server" % (conns, closes))
    ok(all(l == "GET /index.html HTTP/1.1" for _, l in lines), "request lines as sent", lines[:3])

    # 2. A path list: 200, 404 and chunked gzip, counted by code and class.
    ngx.clear_log()
    scn = write_scenario("""
local http = require "surge.proto.http"
return {
  target = "%s",
  protocol = http.client { path = { "/index.html", "/missing", "/gz/100k.bin", "/1k.bin" },
                           headers = { ["Accept-Encoding"] = "gzip" } },
  connections = 4, duration = "1500ms",
  thresholds = { ["counter.http.status.404"] = "> 0" },
}
""" % base)
    samples = os.path.join(ngx.tmp, "paths.samples.csv")
    rc, r, log = run(scn, "--samples", samples)
    req, errs, cnt = totals(r)
    lines = ngx.access_lines()
    by = {}
    for st, _ in lines:
        by[st] = by.get(st, 0) + 1
    ok(rc == 0 and errs["total"] == 0, "a path list with 404s and gzip: 0 errors, exit 0",
       "%s\n%s" % (log, errs))
    lost = req["unfinished"]
    ok(abs(cnt.get("http.status.404", 0) - by.get(404, 0)) <= lost and by.get(404, 0) > 100,
       "http.status.404 = nginx's 404 lines: %s vs %s" % (cnt.get("http.status.404"), by.get(404)))
    ok(abs(cnt.get("http.status.200", 0) - by.get(200, 0)) <= lost,
       "http.status.200 = nginx's 200 lines: %s vs %s" % (cnt.get("http.status.200"), by.get(200)))
    ok(cnt.get("http.status.4xx") == cnt.get("http.status.404"), "4xx class = the 404s")
    with open(samples) as f:
        rows = list(csv.DictReader(f))
    in_log = {}
    for row in rows:
        if row["outcome"] == "ok":
            in_log[row["status"]] = in_log.get(row["status"], 0) + 1
    ok(in_log.get("404") == cnt.get("http.status.404") and in_log.get("200") == cnt.get("http.status.200"),
       "the sample log carries each answer's HTTP status: %s" % in_log, rows[:3])
    ok(cnt.get("http.status.2xx", 0) + cnt.get("http.status.4xx", 0) == req["completed"],
       "classes add up to completed")

    # 3. Chunked gzip alone: body bytes = what nginx logged as sent (its
    # $body_bytes_sent counts the chunked framing too: so the payload is
    # smaller, and far smaller than the 100 KiB file).
    ngx.clear_log()
    scn = write_scenario("""
local http = require "surge.proto.http"
return { target = "%s", connections = 2, duration = "1s",
  protocol = http.client { path = "/gz/100k.bin", headers = { ["Accept-Encoding"] = "gzip" } } }
""" % base)
    rc, r, log = run(scn)
    req, errs, cnt = totals(r)
    ok(errs["total"] == 0 and req["completed"] > 100, "chunked gzip answers framed: %d, 0 errors"
       % req["completed"], errs)
    per = cnt.get("http.body_bytes", 0) / max(req["completed"], 1)
    ok(0 < per < 100 * 1024 / 4, "gzip payload per answer %.0f bytes (of a 100 KiB file)" % per)

    # 3b. wrk's -H on a URL run: the same gzip, asked for from the command line.
    rc, r, log = run(base + "/gz/100k.bin", "-c", "2", "-d", "500ms", "-H", "Accept-Encoding: gzip")
    req, errs, cnt = totals(r)
    per = cnt.get("http.body_bytes", 0) / max(req["completed"], 1)
    ok(errs["total"] == 0 and 0 < per < 100 * 1024 / 4,
       "-H 'Accept-Encoding: gzip' on a URL run: gzip answers (%.0f bytes each)" % per, log)

    # 4. HEAD: headers only, Content-Length ignored for framing.
    ngx.clear_log()
    scn = write_scenario("""
local http = require "surge.proto.http"
return { target = "%s", connections = 2, duration = "1s",
  protocol = http.client { method = "HEAD", path = "/100k.bin" } }
""" % base)
    rc, r, log = run(scn)
    req, errs, cnt = totals(r)
    lines = ngx.access_lines()
    ok(errs["total"] == 0 and req["completed"] > 100, "HEAD: %d answers, 0 errors" % req["completed"], errs)
    ok("http.body_bytes" not in cnt, "HEAD: no body bytes counted", cnt)
    ok(lines and all(l.startswith("HEAD /100k.bin ") for _, l in lines), "nginx saw HEAD requests")

    # 4b. scenarios/http.lua as its header says, pointed at this nginx.
    from tap import ROOT  # noqa: E402
    rc, r, log = run(os.path.join(ROOT, "scenarios", "http.lua"), "--target", base, "-c", "4",
                     "-d", "1s")
    req, errs, cnt = totals(r) if r else ({}, {}, {})
    ok(rc == 0 and errs.get("total") == 0 and cnt.get("http.status.2xx", 0) == req.get("completed")
       and req.get("completed", 0) > 100, "scenarios/http.lua runs: %s answers, thresholds pass"
       % req.get("completed"), log)

    # 4c. An answer past max_message: protocol.oversized, whether it came in
    # one read or many (100 KiB arrives in several).
    scn = write_scenario("""
local http = require "surge.proto.http"
return { target = "%s", connections = 1, duration = "500ms",
  protocol = http.client { path = "/100k.bin", max_message = 50000 } }
""" % base)
    rc, r, log = run(scn)
    req, errs, cnt = totals(r) if r else ({}, {"total": 0, "by_class": {}}, {})
    ok(errs["total"] > 0 and cnt.get("protocol.oversized") == errs["by_class"].get("protocol")
       == errs["total"] and req.get("completed") == 0,
       "100 KiB answers with max_message 50000: each protocol.oversized (%s)"
       % cnt.get("protocol.oversized"), (errs, cnt))

    # 4d. The same options on a URL run: -o protocol.FIELD=VALUE.
    rc, r, log = run(base + "/100k.bin", "-c", "1", "-d", "500ms", "-o", "protocol.max_message=50000")
    req, errs, cnt = totals(r) if r else ({}, {"total": 0, "by_class": {}}, {})
    ok(errs["total"] > 0 and cnt.get("protocol.oversized") == errs["total"] and
       req.get("completed") == 0,
       "a URL run's -o protocol.max_message=50000: each 100 KiB answer oversized", (errs, cnt))
    rc, r, log = run(base + "/100k.bin", "-c", "1", "-d", "500ms", "-o", "protocol.max_message=16MiB")
    req, errs, cnt = totals(r) if r else ({}, {"total": 0, "by_class": {}}, {})
    ok(errs["total"] == 0 and req.get("completed", 0) > 10,
       "... and 16MiB (a size with its unit) takes them whole", (errs, log))
    ngx.clear_log()
    rc, r, log = run(base + "/100k.bin", "-c", "2", "-d", "500ms", "-o", "protocol.method=HEAD")
    req, errs, cnt = totals(r) if r else ({}, {"total": 0}, {})
    lines = ngx.access_lines()
    ok(errs["total"] == 0 and req.get("completed", 0) > 100 and lines and
       all(l.startswith("HEAD /100k.bin ") for _, l in lines),
       "-o protocol.method=HEAD: nginx saw HEAD requests",
       (req, errs, lines[:2], log))
    rc, out, err = surge("run", base + "/", "-d", "300ms", "-o", "protocol.max_mesage=1")
    ok(rc == 2 and "no option 'max_mesage'" in err and "max_message" in err,
       "a misspelt protocol option is refused, listing the module's", err)
    rc, out, err = surge("run", os.path.join(ROOT, "scenarios", "http.lua"), "--target", base,
                         "-d", "300ms", "-o", "protocol.pipeline=2")
    ok(rc == 2 and "a scenario file sets its protocol's options itself" in err and "-e" in err,
       "-o protocol.* on a scenario file: refused, pointing at -e", err)

    # 5. A pipeline of 4 against keepalive_requests 10: only requests in
    # flight at a close are lost (at most 3 per close), never more.
    rc, r, log = run(base + "/1k.bin", "-c", "4", "-d", "1s", "-o", "pipeline=4")
    req, errs, cnt = totals(r)
    closes = cnt.get("http.closed_by_server", 0)
    byc = errs["by_class"]
    ok(closes > 50 and req["completed"] > 500, "pipelined: %d answers, %d server closes"
       % (req["completed"], closes))
    ok(errs["total"] == byc["unexpected_close"] <= 3 * closes,
       "pipelined: losses only as unexpected closes, at most 3 per close (%d for %d closes)"
       % (byc["unexpected_close"], closes), errs)


# Hostile answers: one per path, from a server that reads a request line and
# writes what the path asks for.
HOSTILE = {
    "/bad-status": b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    "/bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "/huge-header": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
    "/two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "/huge-length": b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\nabc",  # then waits
    "/lying-length": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",  # then close
    "/http10": b"HTTP/1.0 200 OK\r\n\r\nbody to the end",  # then close: graceful
}
CLOSE_AFTER = {"/lying-length", "/http10"}


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = self.request.recv(4096)
                    if not d:
                        return
                    buf += d
                req, buf = buf.split(b"\r\n\r\n", 1)
                path = req.split(b" ")[1].decode()
                self.request.sendall(HOSTILE.get(path, b"HTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n"))
                if path in CLOSE_AFTER:
                    return
        except OSError:
            return


class Srv(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Srv(("127.0.0.1", 0), Handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
hbase = "http://127.0.0.1:%d" % srv.server_address[1]
for path, why in (("/bad-status", "bad status line"), ("/bad-chunk", "bad chunk size"),
                  ("/huge-header", "header too large"), ("/two-lengths", "bad content-length"),
                  ("/huge-length", "oversized")):
    rc, r, log = run(hbase + path, "-c", "2", "-d", "500ms", "-o", "connect_rate=200")
    # exit 1: nothing was answered rightly, which surge says rather than report 0 s
    # latencies, and not as if the server were silent
    if not ok(r is not None and rc == 1 and
              "the server answered, but no answer was a valid one" in log,
              "%s: surge survives, reports and says no answer was valid (exit %s)" % (path, rc),
              log):
        continue
    req, errs, cnt = totals(r)
    ok(errs["by_class"]["protocol"] > 0 and errs["total"] == errs["by_class"]["protocol"],
       "%s: protocol errors only (%d)" % (path, errs["by_class"]["protocol"]), errs)
    why = why.replace(" ", "_")
    ok(cnt.get("protocol." + why, 0) == errs["by_class"]["protocol"],
       "%s: each with its reason 'protocol.%s'" % (path, why), cnt)
    ok(req["completed"] == 0, "%s: nothing counted as answered" % path)

rc, r, log = run(hbase + "/lying-length", "-c", "2", "-d", "500ms", "-o", "connect_rate=200")
req, errs, cnt = totals(r)
ok(errs["total"] > 0 and errs["total"] == errs["by_class"]["unexpected_close"] and req["completed"] == 0,
   "a body shorter than its Content-Length, then close: unexpected closes (%d), nothing completed"
   % errs["total"], errs)

rc, r, log = run(hbase + "/http10", "-c", "2", "-d", "500ms", "-o", "connect_rate=2000")
req, errs, cnt = totals(r)
ok(errs["total"] == 0 and req["completed"] > 10, "HTTP/1.0 close-delimited bodies: %d answers, 0 errors"
   % req["completed"], errs)
ok(cnt.get("http.closed_by_server") == req["completed"], "each close counted as http.closed_by_server")
ok(cnt.get("http.body_bytes") == req["completed"] * len(b"body to the end"), "body bytes to the close")
srv.shutdown()
srv.server_close()

# https:// is the same module over TLS: nginx's own count again, verified
# against its certificate, and never plaintext.
with Nginx(tls=True) as n:
    jf = os.path.join(n.tmp, "https.json")
    rc, out, err = surge("run", "https://127.0.0.1:%d/1k.bin" % n.tls_port, "-c", "4", "-d", "1s",
                         "--tls-ca", n.tls_ca, "--json", jf, "--no-progress", "-q")
    r = json.load(open(jf)) if os.path.exists(jf) else {}
    req = r.get("totals", {}).get("requests", {})
    cnt = r.get("counters", {})
    lines = n.access_lines()
    ok(rc == 0 and req.get("completed", 0) > 10 and cnt.get("http.status.200") == req["completed"]
       # A connection that opens after another got its ticket resumes.
       and cnt.get("tls.full", 0) >= 1 and cnt.get("tls.full", 0) + cnt.get("tls.resumed", 0) >= 4
       and len(lines) == req["completed"] + req.get("unfinished", 0),
       "https://: %s answers over TLS (%s full handshakes, %s resumed), nginx logged %d"
       % (req.get("completed"), cnt.get("tls.full"), cnt.get("tls.resumed"), len(lines)), err)
    # Long enough for a handshake to fail on a loaded machine (ASan, side by side).
    rc, out, err = surge("run", "https://127.0.0.1:%d/" % n.tls_port, "-c", "2", "-d", "2s",
                         "--no-progress", "-q")
    ok(rc != 0 and "TLS verify failed" in err, "https:// with an unknown CA: tls verify, never "
       "plaintext (exit %d)" % rc, err)
rc, out, err = surge("run", "http://127.0.0.1:1/", "-d", "300ms", "-o", "pipelines=2")
ok(rc != 0 and "did you mean 'pipeline'" in err, "a URL run checks options like a file", err)
done()
