#!/usr/bin/env python3
"""scenarios/redis.lua (with its module scenarios/redis_resp.lua, found beside
it by require) against Debian's redis-server on loopback, stopped by pid:
every answer surge counts is a command Redis ran (INFO commandstats), and a
Redis error reply is counted as a protocol error with its reason."""
import os
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import run_json as run, ROOT, Server, done, free_port, ok, skip_all, surge, write_scenario  # noqa: E402

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
if not os.access(REDIS, os.X_OK):
    skip_all("redis-server is not installed (make deps)")


def command(port, *args):
    """One RESP command; returns the raw reply bytes (enough for INFO)."""
    msg = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(msg)
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            if buf.startswith(b"$"):
                head, _, rest = buf.partition(b"\r\n")
                if len(rest) >= int(head[1:]) + 2:
                    break
            elif buf.endswith(b"\r\n"):
                break
    return buf.decode(errors="replace")


def calls(port):
    out = {}
    for line in command(port, "INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line.partition(":")
            out[name[8:]] = int(rest.split(",")[0].split("=")[1])
    return out



port = free_port()
srv = Server([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
              "--daemonize", "no"], ready_port=("127.0.0.1", port))
try:
    rc, r, log = run(os.path.join(ROOT, "scenarios", "redis.lua"), "--target",
                     "tcp://127.0.0.1:%d" % port, "-c", "4", "-d", "1s")
    ok(rc == 0 and r is not None, "scenarios/redis.lua runs (its module found beside it)", log)
    req, errs = r["totals"]["requests"], r["totals"]["errors"]
    c = calls(port)
    ran = c.get("set", 0) + c.get("get", 0) + c.get("incr", 0)
    ok(req["completed"] > 1000 and errs["total"] == 0, "%d answers, 0 errors" % req["completed"], errs)
    ok(req["completed"] <= ran <= req["completed"] + req["unfinished"],
       "completed = the commands Redis ran (INFO commandstats): %d vs %d (+%d unfinished)"
       % (req["completed"], ran, req["unfinished"]), c)
    ok(max(c.get("set", 0), c.get("get", 0), c.get("incr", 0)) -
       min(c.get("set", 0), c.get("get", 0), c.get("incr", 0)) <= 8 * 4 + 2,
       "SET, GET and INCR in turn", c)

    # A command Redis refuses: every reply an error, counted with its reason.
    scn = write_scenario("""
package.path = package.path .. ";%s/scenarios/?.lua"
local resp = require "redis_resp"
return { target = "tcp://127.0.0.1:%d", connections = 2, duration = "500ms",
  protocol = resp.client { commands = { { "NOSUCHCOMMAND" } } } }
""" % (ROOT, port))
    rc, r, log = run(scn)
    errs, cnt = r["totals"]["errors"], r["counters"]
    ok(errs["by_class"]["protocol"] > 0 and cnt.get("protocol.redis_error") == errs["total"],
       "error replies: protocol errors, each counted as protocol.redis_error (%s)"
       % cnt.get("protocol.redis_error"), errs)
finally:
    srv.stop()
done()
