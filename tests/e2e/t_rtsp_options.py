#!/usr/bin/env python3
"""What an RTSP reader's scenario may say, checked at load, before any
connection: a threshold on a counter the reader never counts (a typo) is
refused with a did-you-mean, and one it counts is accepted; so is a
misspelt key of rtsp.reader { }, and each option only a message protocol
can honour (rate, requests, connection_lifetime, ...), naming file:line."""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import done, free_port, ok, surge, write_scenario  # noqa: E402


def listener():
    """A port that accepts nothing by itself: connections wait in its
    backlog, so the test can tell whether surge connected at all."""
    port = free_port()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    s.setblocking(False)
    return port, s


def connected(lsock):
    try:
        c, _ = lsock.accept()
        c.close()
        return True
    except BlockingIOError:
        return False


SCN = """local rtsp = require "surge.proto.rtsp"
return {
  target = "rtsp://127.0.0.1:%(port)d/cam",
  protocol = rtsp.reader { watch = "1s"%(reader)s },
  connections = 1,
  duration = "1s",
%(extra)s}
"""


def load(reader="", extra="", *args):
    port, lsock = listener()
    scn = write_scenario(SCN % dict(port=port, reader=reader, extra=extra))
    rc, out, err = surge("run", scn, "-q", "--no-progress", *args, timeout=30)
    was = connected(lsock)
    lsock.close()
    return rc, out + err, was


# 1. counter.rtsp.loss (the report's counter is rtsp.lost): "rtsp.*" was
# declared, so any rtsp. name passed, and the threshold passed as ok 0.
rc, out, was = load("", "", "--threshold", "counter.rtsp.loss<1")
ok(rc == 2 and "no counter 'rtsp.loss'" in out and "did you mean 'rtsp.lost'?" in out and not was,
   "a threshold on counter.rtsp.loss stops the run before traffic: did you mean 'rtsp.lost'? "
   "(exit %d)" % rc, out)
rc, out, was = load("", '  thresholds = { ["rtsp.frist_packet.p99"] = "< 1s" },\n')
ok(rc == 2 and ":7: threshold on 'rtsp.frist_packet.p99'" in out and
   "did you mean 'rtsp.first_packet'?" in out and not was,
   "a histogram's typo in the file names its line (exit %d)" % rc, out)
rc, out, was = load("", "", "--threshold", "counter.rtsp.error.play.timeout<1",
                    "--threshold", "counter.rtsp.status.play.200>=0", "--threshold", "rtsp.jitter.p99<1s")
ok(rc != 2 and "threshold on" not in out and was,
   "thresholds on counters it counts are accepted, and it connects (exit %d)" % rc, out)

# 2. rtsp.reader { wach = "1s" } ran with the default 60 s watch.
rc, out, was = load(', wach = "1s"')
ok(rc == 2 and ":4: rtsp.reader: no option 'wach' (did you mean 'watch'?)" in out and not was,
   "a misspelt reader option stops the run at its line, before traffic (exit %d)" % rc, out)

# 3. Options a session cannot honour. rate = 100 ran the readers and
# reported an open model that failed (intended 100/s, achieved 0%, dropped
# 300); connection_lifetime and requests_per_connection were ignored;
# requests was refused as "bad.lua: option 'requests'", with no line.
for line, k in (("  rate = 100,\n", "rate"), ("  requests = 50,\n", "requests"),
                ('  connection_lifetime = "2s",\n', "connection_lifetime"),
                ("  requests_per_connection = 3,\n", "requests_per_connection")):
    rc, out, was = load("", line)
    ok(rc == 2 and (":7: option '%s': protocol 'rtsp' runs sessions" % k) in out and not was,
       "%s is refused at its line before traffic (exit %d)" % (k, rc), out)
rc, out, was = load("", "", "-n", "50")
ok(rc == 2 and "command line: option 'requests': protocol 'rtsp' runs sessions" in out and
   "(-n / -o requests=)" in out and not was, "-n 50 is refused naming the flag (exit %d)" % rc, out)

done()
