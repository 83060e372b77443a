#!/usr/bin/env python3
"""--html: one self-contained page rendered in headless Chromium: nothing is
fetched, the rendered DOM holds the verdict, thresholds, spectra and series
with the run's numbers, and a screenshot is taken (kept under build/); names a
scenario chooses are escaped text, never markup."""
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from tap import ROOT, Serve, done, ok, skip_all, surge, write_scenario  # noqa: E402
import reports  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    skip_all("chromium is not installed (make deps)")

SCN = """local echo = require "surge.proto.echo"
return { target = "tcp://127.0.0.1:%d", protocol = echo.new { size = 16 },
         connections = 6, rate = 2000, duration = "3s",
         thresholds = { ["latency.p99"] = "< 10s" } }
"""
d = reports.scratch()
html, js = os.path.join(d, "report.html"), os.path.join(d, "report.json")
srv = Serve("echo", "--delay", "1ms")
rc, out, err = surge("run", write_scenario(SCN % srv.port), "-w", "2", "-q", "--html", html,
                     "--json", js, "--threshold", "latency.p50<1ns",
                     "--bind", "127.0.5.1-127.0.5.3")
srv.stop()
ok(rc == 3, "run exits 3 (the --threshold cannot hold)", err)
with open(html) as f:
    page = f.read()
doc = reports.load(js)
ok(page.startswith("<!doctype html>"), "an HTML document")
ok(not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page) and "<script" not in page
   and "@import" not in page, "self-contained: no external resources, no script")


def chromium(*args):
    home = os.path.join(d, "home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home)
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", "--hide-scrollbars", "--user-data-dir=" + home]
                          + list(args) + ["file://" + html],
                          capture_output=True, text=True, timeout=120, env=env)


p = chromium("--dump-dom")
dom = p.stdout
ok(p.returncode == 0 and "</html>" in dom, "chromium renders the page", p.stderr[-2000:])
ok(re.search(r'id="verdict"[^>]*>FAILED: a threshold did not hold<', dom), "verdict: failed")
rows = re.findall(r'<tr class="threshold (pass|fail)">(.*?)</tr>', dom, re.S)
ok([r[0] for r in rows] == ["pass", "fail"], "threshold rows: pass, then fail", rows)
ok(len(rows) == 2 and "latency.p50" in rows[1][1] and "--threshold" in rows[1][1],
   "the failing threshold names its metric and origin")
for h in ("latency", "service", "connect", "send_lag"):
    ok('id="spectrum-%s"' % h in dom, "a percentile spectrum for %s" % h)
for s in ("throughput", "latency", "connections", "errors"):
    ok('id="series-%s"' % s in dom, "a per-second chart of %s" % s)
spec = re.search(r'id="spectrum-latency".*?</figure>', dom, re.S)
ok(spec and re.search(r'<polyline class="series"[^>]*points="[\d., ]+"', spec.group(0)),
   "the latency spectrum has a plotted line")
ok(spec and all(t in spec.group(0) for t in (">90%<", ">99%<", ">99.9%<")),
   "spectrum x axis is labelled 90%, 99%, 99.9% (1/(1-p) log scale)")
tput = re.search(r'id="series-throughput".*?<polyline class="series"[^>]*points="([^"]*)"', dom,
                 re.S)
ok(tput and len(tput.group(1).split()) == 3,
   "the throughput chart has the 3 measured seconds, not the drain after them (%s)"
   % (tput.group(1) if tput else None))
conn = re.search(r'id="series-connections".*?</figure>', dom, re.S)
lines = re.findall(r'<polyline class="series"[^>]*points="([^"]*)"', conn.group(0)) if conn else []
ok(len(lines) == 2 and "opened/s" in conn.group(0),
   "the connections chart has open and opened per second (%d lines)" % len(lines))
ok('data-metric="dest:' not in dom, "per-destination latency is in the addresses table only")
row = re.search(r'<tr data-metric="latency">(.*?)</tr>', dom, re.S)
ok(row and str(doc["histograms"]["latency"]["count"]) in row.group(1),
   "the percentile table shows the run's latency count")
ok(re.search(r'id="card-completed".*?>%d<' % doc["totals"]["requests"]["completed"], dom, re.S),
   "the summary card shows the completed count from the JSON")
ok("127.0.0.1:%d" % srv.port in dom, "run parameters show the target")
srcs = re.findall(r'<tr><th>(127\.0\.5\.\d)</th><td>(\d+)</td><td>(\d+)</td></tr>', dom)
ok([(a["address"], str(a["connections"]), str(a["completed"]))
    for a in doc["addresses"]["sources"]] == srcs and len(srcs) == 3 and
   sum(int(c) for _, c, _ in srcs) == 6,
   "the sources table: 3 addresses, 6 connections, as in the JSON (%s)" % srcs)
dst = re.search(r'<table class="grid num" id="destinations">.*?</table>', dom, re.S)
ok(dst and re.search(r'<th>127\.0\.0\.1:%d</th><td>6</td><td>0</td><td>%d</td>'
                     % (srv.port, doc["totals"]["requests"]["completed"]), dst.group(0)),
   "the destinations table: 6 connections, every completed request",
   dst.group(0) if dst else dom[-3000:])

shot = os.path.join(ROOT, "build", "report-screenshot.png")
os.makedirs(os.path.dirname(shot), exist_ok=True)
if os.path.exists(shot):
    os.unlink(shot)
p = chromium("--window-size=1400,2000", "--screenshot=" + shot)
ok(p.returncode == 0 and os.path.exists(shot), "screenshot taken: " + shot, p.stderr[-2000:])
with open(shot, "rb") as f:
    png = f.read()
ok(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 30000,
   "a real PNG with content (%d bytes)" % len(png))

# Names are the scenario's: a hostile protocol, counter or metric name is
# text in the page, never markup, and an id made from it stays one attribute.
HOSTILE = r"""local surge = require "surge"
return { target = "tcp://127.0.0.1:%d", connections = 1, duration = "1s",
  protocol = { name = "h<i>x</i>", framing = { kind = "fixed", size = 4 }, request = "ping",
    response = function()
      surge.count("<img src=x onerror=alert(1)>")
      surge.metric([[a" onmouseover="alert(1)]], 1000)
    end } }
"""
srv = Serve("echo")
rc, out, err = surge("run", write_scenario(HOSTILE % srv.port), "-q", "--html", html)
srv.stop()
with open(html) as f:
    page = f.read()
ok(rc == 0, "a run with hostile names writes its report", err)
ok("<img" not in page and "<i>x</i>" not in page and 'onmouseover="' not in page,
   "no hostile name reaches the page as markup",
   [ln for ln in page.splitlines() if "alert" in ln or "<i>x" in ln])
ok('id="spectrum-a%22%20onmouseover%3D%22alert%281%29"' in page,
   "an id made from a hostile name is percent-encoded")
ok("h&lt;i&gt;x&lt;/i&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
   and "a&quot; onmouseover=&quot;alert(1)" in page, "the names are shown, escaped")
dom = chromium("--dump-dom").stdout


class Markup(HTMLParser):
    tags, attrs = set(), set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(a for a, _ in attrs)


m = Markup()
m.feed(dom)
ok("</html>" in dom and "img" not in m.tags and not {"onmouseover", "onerror"} & m.attrs,
   "rendered, the page holds no element or attribute made from a name",
   (m.tags, m.attrs))
done()
