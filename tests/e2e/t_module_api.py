#!/usr/bin/env python3
"""The module API issue 15 adds, against `surge serve echo`: connect(ctx) and
close(ctx, why) callbacks, ctx.state emptied on each new connection, a
response that returns "close" ending its connection gracefully (reconnected,
never an error), and a request() that returns nothing reported as a script
error with its file:line."""
import json
import socket
import threading
import time
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, done, ok, run_json, surge, write_scenario  # noqa: E402

SCN = """
local surge = require "surge"
local connects = surge.counter("test.connect") -- a handle, declared at load
return {
  target = "tcp://127.0.0.1:%d",
  connections = 4, duration = "1s",
  protocol = {
    framing = { kind = "fixed", size = 4 },
    request = function(ctx, buf, cap)
      ctx.state.n = (ctx.state.n or 0) + 1
      if ctx.state.n > 5 then surge.count("test.state_not_reset") end
      return "ping"
    end,
    response = function(ctx, ptr, len)
      if ctx.state.n == 5 then return nil, nil, "close" end
    end,
    connect = function(ctx) connects:add() end,
    close = function(ctx, why) surge.count("test.close." .. why) end,
  },
}
"""

srv = Serve("echo")
try:
    scn = write_scenario(SCN % srv.port)
    js = os.path.join(tempfile.mkdtemp(), "r.json")
    rc, out, err = surge("run", scn, "--json", js, "-q")
    r = json.load(open(js)) if os.path.exists(js) else None
    ok(rc == 0 and r is not None, "a module with connect, close, ctx.state and \"close\" runs", err)
    req, errs, cnt = r["totals"]["requests"], r["totals"]["errors"], r["counters"]
    conns = r["totals"]["connections"]["opened"]
    ok(errs["total"] == 0, "answers that end their connection are no errors", errs)
    ok(req["completed"] > 500, "completed %d" % req["completed"])
    ok(cnt.get("test.state_not_reset", 0) == 0, "ctx.state starts empty on every connection")
    ok(abs(conns - req["completed"] / 5) <= 4 + 1,
       "one connection per 5 answers: %d opened for %d answers" % (conns, req["completed"]))
    ok(cnt.get("test.connect") == conns, "connect(ctx) once per connection, counted by a handle (%s of %d)"
       % (cnt.get("test.connect"), conns))
    closed = cnt.get("test.close.closed", 0)
    ok(conns - 4 <= closed <= conns, "close(ctx, \"closed\") for each ended connection (%d of %d)"
       % (closed, conns), cnt)

    bad = write_scenario("""
return {
  target = "tcp://127.0.0.1:%d", connections = 1, duration = "300ms",
  protocol = { framing = { kind = "fixed", size = 4 },
    request = function(ctx, buf, cap)
      return
    end },
}
""" % srv.port)
    rc, out, err = surge("run", bad)
    ok("returned nothing" in err and (bad + ":5") in err,
       "request() returning nothing: a script error naming its file:line", err)
    ok("script error" in out, "counted as a script error", out)

    skip = write_scenario("""
return {
  target = "tcp://127.0.0.1:%d", connections = 2, duration = "500ms",
  protocol = { framing = { kind = "fixed", size = 4 },
    request = function(ctx, buf, cap)
      if ctx.seq %% 2 == 1 then return nil, "no key yet" end
      return "ping"
    end },
}
""" % srv.port)
    js = os.path.join(tempfile.mkdtemp(), "r.json")
    rc, out, err = surge("run", skip, "--json", js, "-q")
    r = json.load(open(js))
    errs, cnt = r["totals"]["errors"], r["counters"]
    ok(errs["by_class"]["protocol"] > 0 and cnt.get("protocol.no_key_yet") == errs["total"],
       "request() returning nil, reason: a protocol error counted as protocol.<reason> (%s)"
       % cnt.get("protocol.no_key_yet"), (errs, cnt))

    # An error string used as a name: C-escaped in the text report, so it
    # cannot break the counters line or the metric table.
    names = write_scenario(r"""
local surge = require "surge"
return {
  target = "tcp://127.0.0.1:%d", connections = 1, duration = "300ms",
  protocol = { name = "p\rq", framing = { kind = "fixed", size = 4 }, request = "ping",
    response = function()
      surge.count("bad\nline\\x")
      surge.count("bell\a")
      surge.metric("m\tx", 1000)
    end },
}
""" % srv.port)
    rc, out, err = surge("run", names)
    cl = [ln for ln in out.splitlines() if ln.startswith("  counters")]
    ok(rc == 0 and len(cl) == 1 and re.search(r" bad\\nline\\\\x \d+", cl[0])
       and re.search(r" bell\\x07 \d+", cl[0]),
       "counter names with control bytes are escaped on the one counters line", out)
    ok(re.search(r"^  m\\tx +\S", out, re.M) and "protocol p\\rq," in out
       and not re.search(r"[\r\x07]", out) and not re.search(r"^line", out, re.M),
       "metric and protocol names are escaped too: no control byte reaches the report", out)

    # max_message holds for every framing and every way an answer arrives:
    # a whole 5000-byte echo in one read was completed (fixed, lua) or
    # called bad framing (delimiter, u16); each is protocol.oversized now.
    FR = {"lua": '{ kind = "lua", fn = function(p, len) return len >= 5000 and 5000 or 0 end }',
          "delimiter": '{ kind = "delimiter", delim = "\\n" }', "u16": '{ kind = "u16" }'}
    REQ = {"lua": 'string.rep("a", 5000)', "delimiter": 'string.rep("a", 4999) .. "\\n"',
           "u16": '"\\19\\134" .. string.rep("a", 4998)'}
    BIG = """
return { target = "tcp://127.0.0.1:%d", connections = 1, duration = "300ms",
  protocol = { framing = %s, max_message = 4096, request = %s } }
"""
    for kind in ("lua", "delimiter", "u16"):
        rc, r, log = run_json(write_scenario(BIG % (srv.port, FR[kind], REQ[kind])))
        errs, cnt = (r["totals"]["errors"], r["counters"]) if r else ({"total": 0}, {})
        ok(r and r["totals"]["requests"]["completed"] == 0 and errs["total"] > 0
           and cnt.get("protocol.oversized") == errs["total"] and "protocol.bad_framing" not in cnt,
           "%s framing, 5000-byte answers in one read, max_message 4096: each protocol.oversized"
           % kind, (errs, cnt, log))

    # Pipelined, fifo: a response callback sees its own request's ctx.seq
    # (the echoed number) and a ctx.now_ns from when that request went out:
    # after its request() ran, before the answer; they were the newest's.
    pipe = write_scenario("""
local surge, ffi = require "surge", require "ffi"
local badseq, badnow, seen = surge.counter("t.badseq"), surge.counter("t.badnow"), surge.counter("t.seen")
local nokey = surge.counter("t.nokey")
return { target = "tcp://127.0.0.1:%d", connections = 2, duration = "500ms",
  protocol = { framing = { kind = "fixed", size = 8 }, pipeline = 8,
    connect = function(ctx) ctx.state.at, ctx.state.by = {}, {} end,
    request = function(ctx, buf, cap)
      ctx.state.at[tonumber(ctx.seq)] = ctx.now_ns
      ctx.state.by[ctx.seq] = true -- plain numbers: a key found again
      return ("%%08d"):format(tonumber(ctx.seq))
    end,
    response = function(ctx, p, len)
      local seq, at = tonumber(ffi.string(p, 8)), ctx.state.at
      seen:add()
      if tonumber(ctx.seq) ~= seq then badseq:add() end
      if not ctx.state.by[ctx.seq] or type(ctx.seq) ~= "number" then nokey:add() end
      if not (ctx.now_ns >= at[seq] and ctx.now_ns <= surge.now_ns()) then
        badnow:add()
      end
    end } }
""" % srv.port)
    rc, r, log = run_json(pipe)
    cnt = r["counters"] if r else {}
    ok(rc == 0 and cnt.get("t.seen", 0) > 100 and "t.badseq" not in cnt and "t.badnow" not in cnt,
       "pipelined fifo: a response's ctx.seq and ctx.now_ns are its own request's (%s)" % cnt, log)
    ok(rc == 0 and cnt.get("t.seen", 0) > 100 and "t.nokey" not in cnt,
       "ctx.seq is a Lua number: what request() keyed by it, response() finds (%s)" % cnt, log)

    fixed = write_scenario("""
return { target = "tcp://127.0.0.1:%d", connections = 1, duration = "300ms",
  protocol = { framing = { kind = "fixed", size = 9000 }, max_message = 4096,
               request = string.rep("a", 9000) } }
""" % srv.port)
    rc, out, err = surge("run", fixed)
    ok(rc != 0 and "protocol.framing.size" in err and "max_message" in err and "9000" in err,
       "a fixed size above max_message is refused at load, naming both", err)
finally:
    srv.stop()


def dripping(sock):
    """Answers each line with 5000 bytes and a newline, 100 bytes at a time."""
    sock.listen(4)
    while True:
        try:
            c, _ = sock.accept()
        except OSError:
            return
        def serve(c=c):
            try:
                while c.recv(65536):
                    data = b"B" * 5000 + b"\n"
                    for i in range(0, len(data), 100):
                        c.sendall(data[i:i + 100])
                        time.sleep(0.0005)
            except OSError:
                pass
            c.close()
        threading.Thread(target=serve, daemon=True).start()


lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
threading.Thread(target=dripping, args=(lsock,), daemon=True).start()
for kind in ("lua", "delimiter"):
    rc, r, log = run_json(write_scenario(BIG % (lsock.getsockname()[1], FR[kind],
                                                '"ping\\n"')))
    errs, cnt = (r["totals"]["errors"], r["counters"]) if r else ({"total": 0}, {})
    ok(r and r["totals"]["requests"]["completed"] == 0 and errs["total"] > 0
       and cnt.get("protocol.oversized") == errs["total"],
       "%s framing, the same answers dripped in 100-byte reads: protocol.oversized too" % kind,
       (errs, cnt, log))
lsock.close()


# A server that answers every request twice in one segment: in order, the
# second answer has no written request before it. The response callback is
# not asked about it (a module counted it as an answer: memcached's
# CLIENT_ERROR + ERROR to one bad set), and it is protocol.unsolicited.
def twice(ls):
    ls.listen(8)
    while True:
        try:
            s, _ = ls.accept()
        except OSError:
            return

        def one(s):
            try:
                while True:
                    q = s.recv(4)
                    if len(q) < 4:
                        break
                    while len(q) < 4:
                        q += s.recv(4 - len(q))
                    s.sendall(q + q)
            except OSError:
                pass
            s.close()
        threading.Thread(target=one, args=(s,), daemon=True).start()


lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
threading.Thread(target=twice, args=(lsock,), daemon=True).start()
rc, r, log = run_json(write_scenario("""
local surge = require "surge"
local calls = surge.counter("t.calls")
return { target = "tcp://127.0.0.1:%d", connections = 2, workers = 1, duration = "500ms",
  protocol = { framing = { kind = "fixed", size = 4 }, request = "abcd",
    response = function(ctx, p, len) calls:add() end } }
""" % lsock.getsockname()[1]))
lsock.close()
cnt = r["counters"] if r else {}
done_n = r["totals"]["requests"]["completed"] if r else 0
ok(done_n > 100 and cnt.get("t.calls") == done_n and
   done_n - 2 <= cnt.get("protocol.unsolicited", 0) <= done_n,
   "every answer twice in one segment: the callback asked %s times for %d completed; "
   "protocol.unsolicited %s" % (cnt.get("t.calls"), done_n, cnt.get("protocol.unsolicited")),
   log)
# A session that closes its own connection and then fails backs off like
# any failed session (it reconnected every upkeep tick): 4 slots, 2 s.
srv = Serve("echo")
selfclose = write_scenario("""
local surge = require "surge"
return { target = "tcp://127.0.0.1:%d", connections = 4, duration = "2s",
  protocol = { shape = "session",
               session = function(conn) conn:send("x"); conn:close(); surge.error("protocol") end } }
""" % srv.port)
rc, out, err = surge("run", selfclose, "-w", "1", "-q")
seen = srv.stop()
ok(rc == 1 and 4 <= seen.get("accepted", 0) <= 4 * 12,
   "a session that closes itself and fails backs off: %s connections for 4 slots in 2 s"
   % seen.get("accepted"), err)

# prepare(target) for each of several targets: a request() that writes into
# buf gets it (a chooser once dropped buf and cap: the workers crashed),
# each connection its own target's function (ctx.target), and the echoed
# bytes say which target answered. A token given as a user alone is shown
# nowhere, scheme or not.
a, b = Serve("echo"), Serve("echo")
per_target = write_scenario("""
local ffi = require "ffi"
local proto = { framing = { kind = "fixed", size = 8 } }
proto.prepare = function(t)
  local tag = ("%%08d"):format(t.port)
  return { framing = proto.framing,
    request = function(ctx, buf, cap) ffi.copy(buf, tag, 8); return 8 end,
    response = function(ctx, ptr, len)
      if ffi.string(ptr, len) ~= tag then return nil, "other_target" end
    end }
end
return { target = { "tcp://127.0.0.1:%d", "tok3n@127.0.0.1:%d" }, connections = 4, requests = 2000,
  protocol = proto }
""" % (a.port, b.port))
rc, r, log = run_json(per_target, "-w", "1")
seen = [a.stop(), b.stop()]
ok(rc == 0 and r and r["totals"]["requests"]["completed"] == 2000 and
   r["totals"]["errors"]["total"] == 0 and all(x.get("accepted", 0) == 2 for x in seen),
   "two targets, request() writing into buf: 2000 answers, each its own target's, 0 errors "
   "(%s connections each)" % [x.get("accepted") for x in seen], log)
ok(r and "tok3n" not in json.dumps(r) and "tok3n" not in log,
   "a schemeless target's user given alone is in no report", r and r["run"].get("target"))

# A session's conn.target is its connection's target, not the first's (RTSP
# readers took their URL and login from it): each session counts the port
# of its conn.target; 4 connections over 2 targets are 2 and 2.
a, b = Serve("echo"), Serve("echo")
sessions = write_scenario("""
local surge = require "surge"
return { target = { "tcp://127.0.0.1:%d", "tcp://127.0.0.1:%d" }, connections = 4, duration = "1s",
  protocol = { shape = "session", session = function(conn)
    surge.count("t.port." .. conn.target.port)
    conn:sleep(5)
  end } }
""" % (a.port, b.port))
rc, r, log = run_json(sessions, "-w", "1")
a.stop(), b.stop()
cnt = r["counters"] if r else {}
ok(cnt.get("t.port.%d" % a.port) == 2 and cnt.get("t.port.%d" % b.port) == 2,
   "a session's conn.target is its own connection's: %s" % {k: v for k, v in cnt.items()
                                                           if k.startswith("t.port")}, log)

done()
