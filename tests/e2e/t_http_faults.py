#!/usr/bin/env python3
"""surge.proto.http against a small Python server that misbehaves on
purpose, each case checked against what the server saw: a connection that
stops reading mid-write and is replaced, after which the slot sends again
(it never did before conn_open reset `writing`); unsolicited answers, which
count as protocol errors and never by status; a close surge makes that the
server did not ask for, which is not http.closed_by_server."""
import os
import socket
import socketserver
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import run_json as run, done, ok  # noqa: E402


class Server:
    """A threaded server on loopback; each connection is handle(sock, n),
    n its number from 0. Counts the request heads it read."""

    def __init__(self, handle):
        self.handle = handle
        self.lock = threading.Lock()
        self.conns = 0
        self.requests = 0
        self.stop = threading.Event()
        outer = self

        class H(socketserver.BaseRequestHandler):
            def handle(self):
                with outer.lock:
                    n = outer.conns
                    outer.conns += 1
                try:
                    outer.handle(outer, self.request, n)
                except OSError:
                    pass

        class S(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = S(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def heads(self, sock):
        """Yields each request head read from sock until it closes."""
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = sock.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            with self.lock:
                self.requests += 1
            yield head

    def close(self):
        self.stop.set()
        self.srv.shutdown()
        self.srv.server_close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


# 1. The first connection reads one request head and then nothing: surge's
# pipeline of 1000 padded requests (8 MB) fills the socket, its requests
# time out and the connection closes with its output still queued. The
# slot's next connection must send: before the fix every later request on
# it was counted sent and then timed out, though none ever left.
def first_noread(srv, sock, n):
    for _ in srv.heads(sock):
        if n == 0:
            srv.stop.wait(5)
            return
        sock.sendall(OK)


srv = Server(first_noread)
pad = "X-Pad: " + "a" * 8000
rc, r, log = run(srv.url, "-c", "1", "-w", "1", "-p", "1000", "-H", pad, "-d", "3s", "-t", "1s")
srv.close()
ok(r is not None, "stalled first connection: surge reports", log)
if r:
    req, errs = r["totals"]["requests"], r["totals"]["errors"]
    ok(srv.conns >= 2 and req["completed"] > 100,
       "the slot reconnects and its requests are answered: %d completed on %d connections"
       % (req["completed"], srv.conns), log)
    ok(errs["total"] == errs["by_class"]["request_timeout"] <= 1000,
       "only the stalled connection's requests time out (%d, pipeline 1000)" % errs["total"], errs)
    ok(req["completed"] <= srv.requests - 1 <= req["completed"] + req["unfinished"],
       "every answer counted was for a request the server read (%d read, 1 stalled)"
       % srv.requests)


def status_sum(cnt):
    """The answers counted by status code (http.status.NNN, not the classes)."""
    return sum(v for k, v in cnt.items() if k.startswith("http.status.") and k[12:].isdigit())


# 3. Two answers to each request, the second unsolicited: only the first is
# an answer to a request, so only it counts by status (the second used to
# count too, twice what was answered).
def two_answers(srv, sock, n):
    for _ in srv.heads(sock):
        sock.sendall(OK + b"HTTP/1.1 503 Extra\r\nContent-Length: 0\r\n\r\n")


srv = Server(two_answers)
rc, r, log = run(srv.url, "-c", "2", "-w", "1", "-d", "1s")
srv.close()
ok(r is not None, "two answers a request: surge reports", log)
if r:
    req, errs, cnt = r["totals"]["requests"], r["totals"]["errors"], r["counters"]
    ok(req["completed"] > 10 and cnt.get("protocol.unsolicited", 0) > 10,
       "answers completed (%d) and unsolicited ones refused (%d)"
       % (req["completed"], cnt.get("protocol.unsolicited", 0)), cnt)
    ok(status_sum(cnt) == req["completed"],
       "only the answers matched to a request count by status: %d counted, %d completed"
       % (status_sum(cnt), req["completed"]), cnt)
    classes = sum(cnt.get("http.status.%dxx" % k, 0) for k in range(1, 6))
    ok(classes == req["completed"], "and by class: %d" % classes, cnt)


# 4. A body framed by both Content-Length and chunked, on a connection the
# server keeps open: surge closes it after the answer (RFC 9112 6.3 p.3),
# but the server did not end it, so no http.closed_by_server.
def cl_and_chunked(srv, sock, n):
    for _ in srv.heads(sock):
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n0\r\n\r\n")


srv = Server(cl_and_chunked)
rc, r, log = run(srv.url, "-c", "2", "-w", "1", "-d", "500ms", "-o", "connect_rate=200")
srv.close()
ok(r is not None, "content-length and chunked: surge reports", log)
if r:
    req, cnt, conns = r["totals"]["requests"], r["counters"], r["totals"]["connections"]
    ok(req["completed"] > 5 and conns["opened"] >= req["completed"],
       "each answer completes and surge closes its connection: %d answers, %d connections"
       % (req["completed"], conns["opened"]), r["totals"])
    ok(cnt.get("http.closed_by_server", 0) == 0,
       "surge's close is not http.closed_by_server (%d)" % cnt.get("http.closed_by_server", 0), cnt)

done()
