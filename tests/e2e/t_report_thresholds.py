#!/usr/bin/env python3
"""Thresholds: a passing set exits 0, a failing one exits 3 and says which;
bad thresholds stop the run before traffic with exit 2 and name file:line or
--threshold."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import Serve, done, ok, surge, write_scenario  # noqa: E402

SCN = """local echo = require "surge.proto.echo"
return {
  target = "tcp://127.0.0.1:%d",
  protocol = echo.new { size = 16 },
  connections = 4,
  rate = 1000,
  duration = "2s",
  thresholds = {
    %s
  },
}
"""

srv = Serve("echo", "--delay", "2ms")
good = write_scenario(SCN % (srv.port, '["latency.p50"] = "> 1ms",\n    ["errors.rate"] = "< 0.1%",\n'
                             '    ["rate.achieved"] = "> 99%",'))
rc, out, err = surge("run", good, "-w", "1", "--no-progress")
ok(rc == 0, "every threshold holds: exit 0", out + err)
ok("thresholds  3 of 3 passed" in out, "the report lists them", out)

rc, out, err = surge("run", good, "-w", "1", "--threshold", "latency.p50<1ms", "--no-progress")
ok(rc == 3, "a 2 ms server fails latency.p50<1ms: exit 3", out + err)
ok("thresholds  3 of 4 passed" in out and "FAIL  latency.p50 < 1ms" in out,
   "the failing one is marked, with where it came from", out)

rc, out, err = surge("run", good, "-w", "1", "--threshold", "counter.nope>0", "--no-progress")
ok(rc == 3 and "FAIL  counter.nope > 0" in out, "a counter never counted fails", out)
srv.stop()

bad = write_scenario(SCN % (1, '["latency.p99"] = "< 5ms",\n    ["errors.rate"] = "under 1%",'))
rc, out, err = surge("run", bad)
ok(rc == 2, "a bad condition: exit 2 before any traffic", err)
ok("%s:10: threshold on 'errors.rate': expected an operator" % bad in err,
   "names file:line, the metric and what is expected", err)

bad = write_scenario(SCN % (1, '["latency.p99x"] = "< 5ms",'))
rc, out, err = surge("run", bad)
ok(rc == 2 and "%s:9: threshold on 'latency.p99x': unknown metric" % bad in err,
   "an unknown metric names file:line and lists the known ones", err)

bad = write_scenario(SCN % (1, '["latency.p99"] = 5,'))
rc, out, err = surge("run", bad)
ok(rc == 2 and "option 'thresholds': expected conditions as strings" in err,
   "a number instead of a condition string", err)

rc, out, err = surge("run", good, "--threshold", "latency.p99")
ok(rc == 2 and "--threshold: threshold 'latency.p99': expected METRIC<VALUE" in err,
   "--threshold without an operator: exit 2", err)
rc, out, err = surge("run", good, "--threshold", "latency.p99<5 parsecs")
ok(rc == 2 and "a duration like 5ms" in err, "--threshold with a bad value: exit 2", err)
rc, out, err = surge("report", "/nonexistent.hlog", "--threshold", "errors.rate<fast")
ok(rc == 2 and "a percentage like 0.1%" in err, "surge report checks --threshold first: exit 2", err)
done()
