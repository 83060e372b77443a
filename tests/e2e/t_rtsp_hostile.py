#!/usr/bin/env python3
"""RTSP readers against a small Python server that plays scripted RTP
sequence numbers, each packet counted by the server: a packet repeated
behind the highest number is a duplicate (before, it counted as a late
packet and twice as received, so rtsp.lost went negative), and a sender's
restart (RFC 3550 A.1) keeps the packets counted before it in rtsp.packets
(before, they vanished from it, and rtsp.bytes disagreed). Every packet
sent is a packet, a duplicate or a malformed one."""
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import done, free_port, ok, run_json, write_scenario  # noqa: E402

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
       "a=rtpmap:96 H264/90000\r\na=control:track1\r\n")


def read_request(f):
    """One RTSP request's head from f: (method, url, CSeq or "0"), or None
    at the end."""
    line = f.readline()
    if not line:
        return None
    cseq = "0"
    while True:
        h = f.readline()
        if not h or h in (b"\r\n", b"\n"):
            break
        if h.lower().startswith(b"cseq:"):
            cseq = h.split(b":", 1)[1].strip().decode()
    method, url = line.decode().split(" ")[:2]
    return method, url, cseq


def rtp(seq):
    p = bytes([0x80, 96]) + struct.pack(">HII", seq & 0xffff, 0, 1234) + b"\x41" + b"x" * 20
    return b"$\x00" + struct.pack(">H", len(p)) + p


def serve(lsock, seqs, seen, options=None):
    """One reader: answers OPTIONS..PLAY, sends seqs as interleaved RTP,
    then answers whatever comes until the reader goes. options: how OPTIONS
    is answered: None right, "none" without a CSeq, "future" with one never
    sent, "stale" first with an earlier one (0), then right."""
    s, _ = lsock.accept()
    f = s.makefile("rb")
    try:
        while True:
            req = read_request(f)
            if not req:
                return
            method, url, cseq = req
            extra, body = "", ""
            if method == "DESCRIBE":
                extra, body = "Content-Type: application/sdp\r\nContent-Base: %s/\r\n" % url, SDP
            elif method == "SETUP":
                extra = "Session: 1234;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
            elif method == "PLAY":
                extra = "Session: 1234\r\n"
            if method == "OPTIONS" and options == "none":
                s.sendall(b"RTSP/1.0 200 OK\r\n\r\n")
                continue
            if method == "OPTIONS" and options == "future":
                cseq = str(int(cseq) + 5)
            if method == "OPTIONS" and options == "stale":
                s.sendall(b"RTSP/1.0 200 OK\r\nCSeq: 0\r\n\r\n")
            s.sendall(("RTSP/1.0 200 OK\r\nCSeq: %s\r\n%sContent-Length: %d\r\n\r\n%s"
                       % (cseq, extra, len(body), body)).encode())
            if method == "PLAY":
                for q in seqs:
                    s.sendall(rtp(q))
                    seen["sent"] += 1
    except OSError:
        pass
    finally:
        f.close()
        s.close()


SCN = """local rtsp = require "surge.proto.rtsp"
return { target = "rtsp://127.0.0.1:%d/live", protocol = rtsp.reader { watch = "5s" },
  connections = 1, workers = 1, duration = "1s", timeout = "3s" }
"""

def read_from(seqs, options=None):
    """One reader's run against serve(): (rc, report, log, what the server
    sent, its thread)."""
    port = free_port()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(4)
    seen = {"sent": 0}
    th = threading.Thread(target=serve, args=(lsock, seqs, seen, options), daemon=True)
    th.start()
    rc, rep, log = run_json(write_scenario(SCN % port), "--no-progress")
    lsock.close()
    return rc, rep, log, seen, th


CASES = [
    # name, sequence numbers sent, packets, duplicates, reordered, malformed, lost
    ("101 repeated behind 102", [100, 101, 102, 101, 101, 101, 103], 4, 3, 0, 0, 0),
    ("102 late, then again", [100, 101, 103, 104, 102, 102], 5, 1, 1, 0, 0),
    ("a restart at 30000", [100, 101, 102, 30000, 30001, 30002, 30003], 6, 0, 0, 1, 0),
]
for name, seqs, packets, dups, reord, bad, lost in CASES:
    rc, rep, log, seen, th = read_from(seqs)
    c = (rep or {}).get("counters", {})
    got = (c.get("rtsp.packets", 0), c.get("rtsp.duplicates", 0), c.get("rtsp.reordered", 0),
           c.get("rtsp.malformed_rtp", 0), c.get("rtsp.lost", 0))
    ok(got == (packets, dups, reord, bad, lost),
       "%s: packets, duplicates, reordered, malformed, lost = %s (want %s)"
       % (name, got, (packets, dups, reord, bad, lost)), log + "\n" + str(c))
    ok(seen["sent"] == len(seqs) and got[0] + got[1] + got[3] == seen["sent"] and
       c.get("rtsp.bytes") == 33 * got[0],
       "%s: every one of the %d packets sent counted once; rtsp.bytes %s = packets x 33"
       % (name, seen["sent"], c.get("rtsp.bytes")), c)
    th.join(5)

# CSeq (RFC 2326 12.17): an answer without one, or with one never sent, is
# the step's protocol error at once (before, the step waited its timeout and
# failed as request_timeout though the server had answered); an earlier
# request's number is a stale answer, counted, and the right one still
# completes the step.
for mode, fails in (("none", "no_cseq"), ("future", "unsent_cseq"), ("stale", None)):
    rc, rep, log, seen, th = read_from([100, 101], mode)
    c = (rep or {}).get("counters", {})
    by = (rep or {}).get("totals", {}).get("errors", {}).get("by_class", {})
    if fails:
        ok(c.get("rtsp.error.options." + fails) == 1 and by.get("protocol") == 1 and
           not by.get("request_timeout") and not c.get("rtsp.packets"),
           "OPTIONS answered %s: rtsp.error.options.%s, one protocol error, no timeout "
           "(errors %s)" % ({"none": "without a CSeq", "future": "with a CSeq never sent"}[mode],
                            fails, by), log + "\n" + str(c))
    else:
        ok(c.get("rtsp.unmatched") == 1 and sum(by.values()) == 0 and c.get("rtsp.packets") == 2,
           "OPTIONS answered first with an earlier CSeq: rtsp.unmatched 1, the right answer "
           "still completes it, 2 packets, no errors (%s)" % by, log + "\n" + str(c))
    th.join(5)
# A request's answer has its own deadline (the reader's timeout), however
# much RTP flows meanwhile. A server that streams but never answers PLAY
# (or keepalives) was waited for as long as packets came: 0 errors, readers
# unfinished. Now the step fails as request_timeout.
def serve_streaming(lsock, ignore, stop):
    """Every connection: answers OPTIONS..PLAY (but not the methods in
    `ignore`, nor anything in `ignore` once playing), and from PLAY on sends
    RTP every 20 ms, whether PLAY was answered or not, until `stop`."""
    def one(s):
        lock, playing = threading.Lock(), threading.Event()

        def stream():
            q = 0
            while not stop.is_set():
                try:
                    with lock:
                        s.sendall(rtp(q))
                except OSError:
                    return
                q += 1
                stop.wait(0.02)
        f = s.makefile("rb")
        try:
            while not stop.is_set():
                req = read_request(f)
                if not req:
                    return
                method, url, cseq = req
                extra, body = "", ""
                if method == "DESCRIBE":
                    extra = "Content-Type: application/sdp\r\nContent-Base: %s/\r\n" % url
                    body = SDP
                elif method == "SETUP":
                    extra = ("Session: 1234;timeout=1\r\nTransport: RTP/AVP/TCP;unicast;"
                             "interleaved=0-1\r\n")
                if method == "PLAY" and not playing.is_set():
                    playing.set()
                    threading.Thread(target=stream, daemon=True).start()
                if method in ignore and (method == "PLAY" or playing.is_set()):
                    continue
                with lock:
                    s.sendall(("RTSP/1.0 200 OK\r\nCSeq: %s\r\n%sContent-Length: %d\r\n\r\n%s"
                               % (cseq, extra, len(body), body)).encode())
        except OSError:
            pass
        finally:
            f.close()
            s.close()

    lsock.settimeout(0.2)
    while not stop.is_set():
        try:
            s, _ = lsock.accept()
        except OSError:
            continue
        threading.Thread(target=one, args=(s,), daemon=True).start()


STREAM_SCN = """local rtsp = require "surge.proto.rtsp"
return { target = "rtsp://127.0.0.1:%d/live", protocol = rtsp.reader { watch = "5s", timeout = "1s" },
  connections = 1, workers = 1, duration = "3s" }
"""
for ignore, step in ((("PLAY",), "play"), (("OPTIONS", "GET_PARAMETER"), "keepalive")):
    port = free_port()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(8)
    stop = threading.Event()
    th = threading.Thread(target=serve_streaming, args=(lsock, ignore, stop), daemon=True)
    th.start()
    rc, rep, log = run_json(write_scenario(STREAM_SCN % port), "--no-progress")
    stop.set()
    th.join(5)
    lsock.close()
    c = (rep or {}).get("counters", {})
    t = (rep or {}).get("totals", {})
    by = {k: v for k, v in t.get("errors", {}).get("by_class", {}).items() if v}
    failed = c.get("rtsp.error.%s.timeout" % step, 0)
    ok(failed >= 1 and by == {"request_timeout": failed} and c.get("rtsp.packets", 0) > 10 and
       (step == "keepalive") == (c.get("rtsp.sessions", 0) >= 1),
       "RTP flows, %s never answered: rtsp.error.%s.timeout %d, each a request_timeout (errors %s, "
       "packets %s)" % ("/".join(ignore), step, failed, by, c.get("rtsp.packets")), log + "\n" + str(c))
done()
