#!/usr/bin/env python3
"""A protocol module with a bug: every error raised in a callback is counted
once as 'script error' (with the requests it cost), the run goes on, and
stderr shows each distinct message once with file:line and a traceback, then
how many more times it repeated — not thousands of copies."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, done, ok, parse_report, surge, write_scenario  # noqa: E402

# Every 10th answer, and every 25th request, raise. One connection per
# worker, one request in flight: each response error costs exactly that one
# request, each request error costs the request that was not sent.
SCN = """local n_resp, n_req = 0, 0
return {
  target = "tcp://127.0.0.1:%d",
  protocol = {
    name = "buggy",
    framing = { kind = "delimiter", delim = "\\n" },
    request = function(ctx, buf, cap)
      n_req = n_req + 1
      if n_req %% 25 == 0 then error("request callback broke") end
      buf[0] = 104; buf[1] = 10
      return 2
    end,
    response = function(ctx, ptr, len)
      n_resp = n_resp + 1
      if n_resp %% 10 == 0 then local t = nil; return t.x end
      return nil
    end,
  },
  connections = 2, workers = 2, pipeline = 1,
  duration = "1s",
}
"""

srv = Serve("echo")
scn = write_scenario(SCN % srv.port)
rc, out, err = surge("run", scn, "--no-progress")
srv.stop()
r = parse_report(out)
script = r.get("error_classes", {}).get("script error", 0)
ok(rc == 0 and r.get("completed", 0) > 100, "the run goes on and completes requests (%s)"
   % r.get("completed"), out + err)
ok(script > 10 and set(r["error_classes"]) == {"script error"},
   "errors are counted as 'script error' only (%s)" % r.get("error_classes"), out)
resp_first = err.count("%s:15: attempt to index local 't' (a nil value)\nstack traceback:" % scn)
req_first = err.count("%s:9: request callback broke\nstack traceback:" % scn)
ok(resp_first == 1 and req_first == 1,
   "each distinct error is printed once, with file:line and a traceback (%d, %d)"
   % (resp_first, req_first), err)
rep = dict((m.group(2), int(m.group(1))) for m in
           re.finditer(r"^surge: repeated (\d+) more times?: \S+:(\d+): ", err, re.M))
ok(set(rep) == {"15", "9"}, "then how many more times each repeated (%s)" % rep, err)
ok(rep.get("15", 0) + rep.get("9", 0) + 2 == script,
   "printed + repeated = the 'script error' count: each error counted once (%d + %d + 2 vs %d)"
   % (rep.get("15", 0), rep.get("9", 0), script), out + err)
ok(len(err.splitlines()) < 20, "stderr stays short (%d lines)" % len(err.splitlines()), err)

# error() with a table, a table with __tostring or no value, in the
# callbacks and in a session: Lua gives those no file:line and the handler
# printed "(error object is not a string)". Each names the line that raised,
# the callback and where it is written, and shows the value, never an address;
# each is still one script error.
TABLES = """local n, conns = 0, 0
local mt = { __tostring = function(e) return "BadThing " .. e.code end }
return {
  target = "tcp://127.0.0.1:%d",
  protocol = {
    name = "tables",
    framing = { kind = "delimiter", delim = "\\n" },
    connect = function(ctx)
      conns = conns + 1
      if conns == 3 then error() end
    end,
    request = function(ctx, buf, cap)
      n = n + 1
      if n %% 25 == 0 then error(setmetatable({ code = 2 }, mt)) end
      return "h\\n"
    end,
    response = function(ctx, ptr, len)
      if n %% 10 == 0 then error({ code = 1, why = "x" }) end
    end,
  },
  connections = 2, workers = 1, pipeline = 1, duration = "1s",
}
"""
SESSION = """return {
  target = "tcp://127.0.0.1:%d",
  protocol = { name = "tsession", session = function(conn)
    assert(conn:send("ping\\n"))
    assert(conn:read(5))
    error({ code = 7 })
  end },
  connections = 2, workers = 1, duration = "500ms",
}
"""
srv = Serve("echo")
scn = write_scenario(TABLES % srv.port)
rc, out, err = surge("run", scn, "--no-progress")
r = parse_report(out)
script = r.get("error_classes", {}).get("script error", 0)
ok("error object is not a string" not in err and "table: 0x" not in err,
   "no '(error object is not a string)', no table address", err)
for cb, want in (("response", ":18: protocol response() (defined at %s:17) raised the table "
                              '{ code = 1, why = "x" } instead of an error message'),
                 ("request", ":14: protocol request() (defined at %s:12) raised a table that "
                             "prints as BadThing 2 instead of an error message"),
                 ("connect", ":10: protocol connect() (defined at %s:8) raised an error with no "
                             "message (error() with no value)")):
    ok(err.count(scn + want % scn) == 1,
       "error(non-string) in %s(): the raising line, the callback and its line, the value" % cb,
       err)
rep = sum(int(m.group(1)) for m in re.finditer(r"^surge: repeated (\d+) more times?: ", err, re.M))
ok(script >= 3 and rep + 3 == script and set(r["error_classes"]) == {"script error"},
   "still one script error each: printed + repeated = the count (%d + 3 vs %d)" % (rep, script),
   out + err)
path = write_scenario(SESSION % srv.port)
rc, out, err = surge("run", path, "--no-progress")
srv.stop()
r = parse_report(out)
script = r.get("error_classes", {}).get("script error", 0)
rep = sum(int(m.group(1)) for m in re.finditer(r"^surge: repeated (\d+) more times?: ", err, re.M))
ok(err.count("%s:6: protocol session() (defined at %s:3) raised the table { code = 7 } instead "
             "of an error message" % (path, path)) == 1 and rep + 1 == script
   and "error object is not a string" not in err and "table: 0x" not in err,
   "error(table) in a session: its line, the session's line, the value; counted once (%d + 1 "
   "vs %d)" % (rep, script), out + err)

# A framing function that answers with something other than a length, or
# that raises: a script error per lost request, counted once, said once.
FRAMING = """return {
  target = "tcp://127.0.0.1:%d",
  protocol = {
    name = "badframe",
    framing = { kind = "lua", fn = function(ptr, len) return %s end },
    request = "abc",
  },
  connections = 2, workers = 1, duration = "1s",
}
"""
srv = Serve("echo")
for ret, said in (('"3"', "framing.fn returned string; expected the message's length"),
                  ("nil", "framing.fn returned nil"),
                  # cut to 2, each 3-byte answer was split and its first part
                  # completed a request
                  ("2.5", "framing.fn returned 2.5; expected a whole number of bytes"),
                  ("({})[1].x", "attempt to index a nil value")):
    rc, out, err = surge("run", write_scenario(FRAMING % (srv.port, ret)), "--no-progress")
    r = parse_report(out)
    script = r.get("error_classes", {}).get("script error", 0)
    ok(script > 0 and script == r.get("sent") and r.get("completed") == 0 and
       set(r["error_classes"]) == {"script error"} and err.count(said) == 2,
       "framing fn returning %s: each lost request one script error (%d of %s sent); "
       "the message once, then its count" % (ret, script, r.get("sent")), out + err)

# A session that yields outside a conn method (a bare coroutine.yield())
# parked with nothing to wake it: counted as neither completed, unfinished
# nor an error, and the run ended "no request was sent". Now each is a
# script error naming the line that yielded, and the session is ended.
YIELD = """local surge = require "surge"
return {
  target = "tcp://127.0.0.1:%d",
  protocol = { name = "stray", session = function(conn)
    assert(conn:send("ping\\n"))
    assert(conn:read(5))
    coroutine.yield()
  end },
  connections = 2, workers = 1, duration = "500ms",
}
"""
path = write_scenario(YIELD % srv.port)
rc, out, err = surge("run", path, "--no-progress")
r = parse_report(out)
script = r.get("error_classes", {}).get("script error", 0)
ok(script > 2 and set(r["error_classes"]) == {"script error"}
   and (path + ":7: session yielded outside a conn method") in err
   and "no request was sent" not in err,
   "a bare coroutine.yield() in a session: a script error each time, at its line (%d)" % script,
   out + err)

# A callback that never returns holds its worker's loop: no signal gets in.
# The coordinator warns, kills the worker past the end and its drain, and
# still prints the report; exit 1 (a worker died).
STUCK = """return {
  target = "tcp://127.0.0.1:%d",
  protocol = { name = "stuck", session = function(conn) while true do end end },
  connections = 1, workers = 1, duration = "1s", drain = "0s",
}
"""
rc, out, err = surge("run", write_scenario(STUCK % srv.port), "--no-progress", timeout=60)
ok(rc == 1 and "worker 0 did not stop 5 s after the end" in err and "Ran 1.00 s" in out,
   "a session stuck in a loop: the worker is killed, the report printed, exit 1 (%d)" % rc,
   out + err)
# Mid-run, 5 s of silence inside one Lua call, spending CPU, is named as a
# loop (a worker starved of CPU or busy in C is not).
rc, out, err = surge("run", write_scenario((STUCK % srv.port).replace('"1s"', '"8s"')),
                     "--no-progress", timeout=60)
ok(rc == 1 and "worker 0 has sent nothing for" in err and "one Lua callback has run for over" in err
   and "is it stuck in a loop?" in err,
   "stuck mid-run: warned as one Lua call that does not return, then killed (%d)" % rc, err)

# A scenario number or ramp the engine could not honour is exit 2 before any
# traffic, naming where it is written: a ramp.fn that raises or returns NaN
# used to be a closed-model run at full speed; -c 4294967297 one connection.
RAMP = """local ramp = require "surge.ramp"
return {
  target = "tcp://127.0.0.1:%d",
  protocol = require("surge.proto.echo").new {},
  duration = "1s",
  rate = ramp.fn(function(t)
    %s
  end),
}
"""
for body, want in (('error("no rate today")', ":6: option 'rate': ramp.fn: the function failed"),
                   ("return 0/0", ":6: option 'rate': ramp.fn: at t=0s")):
    path = write_scenario(RAMP % (srv.port, body))
    rc, out, err = surge("run", path, "--no-progress")
    ok(rc == 2 and path + want in err and "Ran " not in out,
       "ramp.fn %s: exit 2 with the function's file:line" % body, out + err)
path = write_scenario(SCN % srv.port)
for args, want in ((("-c", "4294967297"), "(-c / -o connections=)"),
                   (("-d", "1e400s"), "(-d / -o duration=)"),
                   (("-w", "100000"), "at most 1024 worker processes"),
                   (("-o", "duration=nan"), "option 'duration'")):
    rc, out, err = surge("run", path, "--no-progress", *args)
    ok(rc == 2 and want in err and "Ran " not in out, "%s: exit 2, %s" % (" ".join(args), want),
       out + err)
srv.stop()
done()
