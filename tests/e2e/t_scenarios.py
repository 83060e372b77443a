#!/usr/bin/env python3
"""The scenario files surge ships, run as their headers tell a user to (only
shortened, and pointed at a server on a free port), with the numbers they
promise: the exact rate of echo-rate.lua, the stages of ramp.lua followed
second by second, rtsp-readers.lua's viewers playing without loss, and
dns-udp.lua's 20000 queries a second from 16 source addresses.
(echo.lua runs in t_install.py, dns-tcp.lua in t_dns_serve.py.)"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import (ROOT, Serve, counters, done, ok, parse_report, progress_lines,  # noqa: E402
                 run_json, surge)


def scenario(name):
    return os.path.join(ROOT, "scenarios", name)


srv = Serve("echo")

# echo-rate.lua: "20000 requests per second in total, whatever the server does".
rc, out, err = surge("run", scenario("echo-rate.lua"), "--target", "127.0.0.1:%d" % srv.port,
                     "-d", "3s", "--no-progress")
r = parse_report(out)
ok(rc == 0 and r.get("errors") == 0 and abs(r.get("sent", 0) - 60000) <= 600 and
   r.get("intended_rate") == 20000.0,
   "echo-rate.lua: 3 s at 20000/s sends 60000 +-1%% (%s), no errors" % r.get("sent"), out + err)

# ramp.lua: the rate climbs 0 -> 5000/s over 5 s, then holds. 8 s of it: the
# schedule's integral is 12500 + 3 x 5000 = 27500 requests.
rc, out, err = surge("run", scenario("ramp.lua"), "--target", "127.0.0.1:%d" % srv.port,
                     "-d", "8s", "--progress")
r = parse_report(out)
intended = {s: i for s, _, _, i, _ in progress_lines(err)}
ok(rc == 0 and r.get("errors") == 0 and abs(r.get("sent", 0) - 27500) <= 275,
   "ramp.lua: 8 s of its stages send 27500 +-1%% (%s)" % r.get("sent"), out + err)
ok(all(abs(intended.get(s, 0) - want) <= 0.02 * want
       for s, want in ((1, 500), (3, 2500), (5, 4500), (7, 5000))),
   "the progress line follows the stages: 500, 2500, 4500, 5000 intended/s (%s)"
   % [intended.get(s) for s in (1, 3, 5, 7)], err)
# The last second's line may already count the closing connections at the
# run's end, so the held 50 is checked over seconds 3 to 7.
rows = progress_lines(err)
conns = [c for _, _, _, _, c in rows]
held = [c for s, _, _, _, c in rows if 3 <= s <= 7]
ok(conns and conns[0] < 50 and len(held) == 5 and all(c == 50 for c in held),
   "connections ramp to 50 over the first 2 s and hold (%s)" % conns, err)
srv.stop()

# rtsp-readers.lua against the built-in source its header names (20 viewers
# for 4 s instead of 2000 for 90 s).
srv = Serve("rtsp", "--bitrate", "100k")
rc, out, err = surge("run", scenario("rtsp-readers.lua"), "--target",
                     "rtsp://127.0.0.1:%d/live" % srv.port, "-c", "20", "-d", "4s",
                     "--no-progress")
srv.stop()
r, c = parse_report(out), counters(out)
ok(rc == 0 and r.get("errors") == 0 and c.get("rtsp.sessions") == 20 and
   c.get("rtsp.status.play.200") == 20 and c.get("rtsp.lost", 0) == 0,
   "rtsp-readers.lua: 20 viewers play, no errors, no loss (%s)" % c, out + err)
ok(c.get("rtsp.packets", 0) > 20 * 3 * 8 and "rtsp.first_keyframe" in r["rows"],
   "they receive the stream and see keyframes (%s packets)" % c.get("rtsp.packets"), out)

# dns-udp.lua against the server its header names: 3 s at 20000/s is 60000
# queries, every one answered (the server counts its datagrams), spread
# evenly over the 16 source addresses, 125 sockets each.
srv = Serve("dns")
rc, doc, err = run_json(scenario("dns-udp.lua"), "--target", "udp://127.0.0.1:%d" % srv.port,
                        "-d", "3s", "--no-progress")
seen = srv.stop()
doc = doc or {}
req = doc.get("totals", {}).get("requests", {})
srcs = doc.get("addresses", {}).get("sources") or []
# A datagram the kernel drops (a server stalled 15 ms under the suite's load
# overflows its socket) is a timeout, never lost from the count.
errs = doc.get("totals", {}).get("errors", {})
timeouts = errs.get("by_class", {}).get("request_timeout", 0)
ok(rc == 0 and abs(req.get("sent", 0) - 60000) <= 600 and
   req.get("completed", 0) >= 0.99 * req.get("sent", 0) and
   req.get("completed") + timeouts == req.get("sent") and errs.get("total") == timeouts and
   req.get("completed") <= seen.get("udp_requests", -1) <= req.get("sent"),
   "dns-udp.lua: 3 s at 20000/s, %s sent, %s answered + %d timed out, the server saw %s"
   % (req.get("sent"), req.get("completed"), timeouts, seen.get("udp_requests")), err)
ok(len(srcs) == 16 and all(s.get("connections") == 125 for s in srcs),
   "from 16 source addresses, 125 sockets each (%s)"
   % [(s.get("address"), s.get("connections")) for s in srcs], srcs)
done()
