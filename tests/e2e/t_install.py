#!/usr/bin/env python3
"""`make install PREFIX=...` gives a surge that finds its Lua modules and
scenarios from anywhere (no checkout needed)."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import ROOT, Serve, done, ok, parse_report  # noqa: E402

prefix = tempfile.mkdtemp(prefix="surge-install-")
build = os.environ.get("BUILD", "build")
p = subprocess.run(["make", "-s", "-C", ROOT, "install", "PREFIX=" + prefix, "BUILD=" + build],
                   capture_output=True, text=True)
ok(p.returncode == 0, "make install PREFIX=%s" % prefix, p.stderr)
exe = os.path.join(prefix, "bin", "surge")
ok(os.access(exe, os.X_OK), "bin/surge installed")
ok(os.path.exists(os.path.join(prefix, "share/surge/lua/surge/proto/echo.lua")), "Lua modules installed")

srv = Serve("echo")
r = subprocess.run([exe, "run", os.path.join(prefix, "share/surge/scenarios/echo.lua"), "--target",
                    "127.0.0.1:%d" % srv.port, "-d", "1s", "-c", "2"],
                   capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin"}, timeout=60)
srv.stop()
rep = parse_report(r.stdout)
ok(r.returncode == 0 and rep.get("completed", 0) > 0,
   "the installed surge runs an installed scenario from / (%s completed)" % rep.get("completed"),
   r.stderr)
subprocess.run(["rm", "-rf", prefix])
done()
