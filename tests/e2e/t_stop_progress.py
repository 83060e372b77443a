#!/usr/bin/env python3
"""The end of a run is judged by progress, not by a fixed time
(engine/stopping.c, worker.c, pool_close_some): a worker whose connections
take longer to close than the watchdog's grace still ends cleanly, every
answer accounted, because it closes them in batches across loop turns and
says how many are left; a worker that stops making progress is still killed.
The grace is shortened to 400 ms (SURGE_STUCK_GRACE_MS) and each close made
slow (a `close` callback that spins 6 ms), so 200 closes per worker take
~1.2 s, three times the grace past the drain."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, done, ok, surge, write_scenario  # noqa: E402

CONNS = 400
env = dict(os.environ, SURGE_STUCK_GRACE_MS="400")


def scenario(port, close_body):
    return write_scenario("""
local echo = require "surge.proto.echo"
local p = echo.new { size = 16 }
p.close = function(ctx, why)
%s
end
return { target = "tcp://127.0.0.1:%d", protocol = p, connections = %d, think = "200ms",
         duration = "2s", drain = "100ms", connect_rate = 4000, connect_timeout = "10s",
         timeout = "30s" }
""" % (close_body, port, CONNS))


def run(scn):
    path = os.path.join(tempfile.mkdtemp(prefix="surge-stop-"), "r.json")
    rc, out, err = surge("run", scn, "-w", "2", "--json", path, "-q", "--no-progress", env=env,
                         timeout=120)
    try:
        with open(path) as f:
            return rc, json.load(f), err
    except (OSError, ValueError):
        return rc, {}, err


# Slow, not stuck: 6 ms of CPU per close.
srv = Serve("echo")
rc, j, err = run(scenario(srv.port, """
  local t = os.clock()
  while os.clock() - t < 0.006 do end"""))
seen = srv.stop()
tot = j.get("totals", {})
req, conns = tot.get("requests", {}), tot.get("connections", {})
ok(rc == 0 and "killed" not in err, "slow closes (~1.2 s per worker, grace 0.4 s): exit 0, no "
   "worker killed (exit %d)" % rc, err[-2000:])
ok(j.get("run", {}).get("workers_lost") == 0 and conns.get("opened") == CONNS and
   conns.get("closed") == CONNS,
   "both workers finished; %s opened, %s closed of %d" % (conns.get("opened"), conns.get("closed"),
                                                          CONNS), json.dumps(conns))
ok(req.get("completed", 0) > 0 and req.get("completed") == seen.get("replies") and
   req.get("sent") == req.get("completed") + req.get("unfinished", 0) + tot.get("errors", {}).get(
       "total", 0),
   "every answer accounted: completed %s = the server's replies %s; sent %s = completed + "
   "unfinished %s + errors %s" % (req.get("completed"), seen.get("replies"), req.get("sent"),
                                  req.get("unfinished"), tot.get("errors", {}).get("total")),
   json.dumps(req))

# Stuck: a close callback that never returns makes no progress and is killed
# by the watchdog, its share counted as lost.
srv = Serve("echo")
rc, j, err = run(scenario(srv.port, "  while true do end"))
srv.stop()
ok(rc != 0 and "made no progress" in err and "killed" in err,
   "a close callback that never returns: the worker is killed as stuck (exit %d)" % rc, err[-2000:])
done()
