#!/usr/bin/env python3
"""The module API issue 15 adds, against `surge serve echo`: connect(ctx) and
close(ctx, why) callbacks, ctx.state emptied on each new connection, a
response that returns "close" ending its connection gracefully (reconnected,
never an error), and a request() that returns nothing reported as a script
error with its file:line."""
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, done, ok, surge, write_scenario  # noqa: E402

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
finally:
    srv.stop()
done()
