#!/usr/bin/env python3
"""A target's userinfo logs in with Basic (RFC 7617), against Debian's nginx
with auth_basic and an htpasswd file written here: the right password (plain,
percent-encoded, empty) is answered 200 every time, a wrong one 401 every
time, a header the user sets wins, https:// the same; and no report (text,
JSON, hlog, HTML) shows the password, written or encoded."""
import base64
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from nginx import Nginx  # noqa: E402
from tap import run_json as run, done, ok, skip_all, surge, write_scenario  # noqa: E402

if not Nginx.available():
    skip_all("nginx is not installed (make deps)")

PW = "s3cr3t@x:y%z"  # written %40, %3A, %25 in a URL
PW_URL = "s3cr3t%40x%3Ay%25z"


def answers(r):
    """(completed, {status: count}) from a JSON report."""
    if not r:
        return 0, {}
    by = {k[len("http.status."):]: v for k, v in r["counters"].items()
          if k.startswith("http.status.") and not k.endswith("xx")}
    return r["totals"]["requests"]["completed"], by


def all_of(url, status, name, *args):
    rc, r, log = run(url, "-c", "2", "-n", "100", *args)
    done_, by = answers(r)
    ok(done_ == 100 and by == {status: 100}, "%s: all %d answers %s (%s)" % (name, done_, status, by),
       log)
    return rc, r, log


with Nginx(tls=True, basic_auth={"alice": PW, "bob": ""}) as ngx:
    hp = "127.0.0.1:%d" % ngx.port
    private = "/private/index.html"

    all_of("http://alice:%s@%s%s" % (PW_URL, hp, private), "200",
           "the right password, percent-encoded in the URL")
    all_of("http://alice:wrong@%s%s" % (hp, private), "401", "a wrong password")
    all_of("http://%s%s" % (hp, private), "401", "no userinfo")
    _, r, _ = all_of("http://bob@%s%s" % (hp, private), "200",
                     "a user without a password sends 'bob:'")
    # A user alone is often a token (https://TOKEN@host/): reports drop it.
    ok(r and r["run"]["target"] == "http://%s%s" % (hp, private),
       "a user without a password is not shown (it may be a token)", r and r["run"])
    basic = base64.b64encode(("alice:" + PW).encode()).decode()
    all_of("http://alice:wrong@%s%s" % (hp, private), "200", "-H Authorization wins over the URL's",
           "-H", "Authorization: Basic " + basic)
    all_of("https://alice:%s@127.0.0.1:%d%s" % (PW_URL, ngx.tls_port, private), "200",
           "https:// the same", "--tls-ca", ngx.tls_ca)
    # http:// beside https://, with the CA the https one needs: the http one
    # stays plaintext (it took TLS too, and failed every handshake).
    rc, r, log = all_of(write_scenario("""
local http = require "surge.proto.http"
return { target = { "http://alice:%s@%s", "https://alice:%s@127.0.0.1:%d" },
  tls = { ca = "%s" }, protocol = http.client { path = "%s" } }
""" % (PW_URL, hp, PW_URL, ngx.tls_port, ngx.tls_ca, private)), "200",
           "http:// and https:// targets side by side, a CA given")
    dests = r["addresses"]["destinations"] if r else []
    ok(rc == 0 and r["totals"]["errors"]["total"] == 0 and len(dests) == 2 and
       all(x["completed"] > 0 and x["failed"] == 0 for x in dests),
       "each as its scheme says: both answer, no handshake fails (%s)" % dests, log)

    scn = write_scenario("""
local http = require "surge.proto.http"
return {
  target = "http://alice:%s@%s",
  protocol = http.client { path = { "/private/index.html", "/private/1k.bin" } },
}
""" % (PW_URL, hp))
    all_of(scn, "200", "a scenario's target logs in too, for every path")

    # Two targets, two logins: each connection sends its own target's Host
    # and Authorization (they came from the first target for every one).
    with Nginx(basic_auth={"carol": "pw2"}) as other:
        for paths, how in (('"/private/index.html"', "the same bytes for each request"),
                           ('{ "/private/index.html", "/private/1k.bin" }', "made per request")):
            ngx.clear_log()
            other.clear_log()
            rc, r, log = run(write_scenario("""
local http = require "surge.proto.http"
return {
  target = { "http://alice:%s@%s", "http://carol:pw2@127.0.0.1:%d" },
  protocol = http.client { path = %s },
}
""" % (PW_URL, hp, other.port, paths)), "-c", "4", "-n", "200")
            users = [sorted({line.split()[2] for line in open(n.access)}) for n in (ngx, other)]
            ok(answers(r) == (200, {"200": 200}) and users == [["alice"], ["carol"]],
               "two targets with their own logins, %s: 200 answers 200, each server saw its "
               "own user (%s)" % (how, users), log)

    # Reports are shared: none shows the password, as written, decoded or
    # base64'd; the user name stays.
    d = tempfile.mkdtemp(prefix="surge-auth-")
    outs = [os.path.join(d, n) for n in ("r.json", "r.hlog", "r.html")]
    url = "http://alice:%s@%s%s" % (PW_URL, hp, private)
    rc, out, err = surge("run", url, "-c", "2", "-n", "100", "--no-progress",
                         "--json", outs[0], "--hlog", outs[1], "--html", outs[2])
    texts = [out, err] + [open(p).read() for p in outs if os.path.exists(p)]
    secrets = (PW_URL, PW, "s3cr3t", basic)
    r = json.load(open(outs[0])) if os.path.exists(outs[0]) else None
    ok(rc == 0 and len(texts) == 5 and answers(r) == (100, {"200": 100}),
       "a URL run with text, JSON, hlog and HTML reports: 100 answers 200", err)
    ok(not any(s in t for s in secrets for t in texts),
       "no report shows the password (text, JSON, hlog, HTML, stderr)",
       [(s, i) for s in secrets for i, t in enumerate(texts) if s in t])
    want = "http://alice@%s%s" % (hp, private)
    ok(r and r["run"]["target"] == want and r["run"]["scenario"] == want and want in out,
       "the target is shown with its user, without the password", r and r["run"])

    # surge doctor on the same URL, and a message that quotes a target (an
    # https:// one with tls off): the password named nowhere either.
    rc, out, err = surge("doctor", url)
    ok(rc in (0, 4) and "alice@" in out and not any(s in out + err for s in secrets),
       "doctor names the URL without the password (exit %d)" % rc, out + err)
    rc, out, err = surge("run", "https://alice:%s@127.0.0.1:%d/" % (PW_URL, ngx.tls_port),
                         "-o", "tls=false", "-d", "1s")
    ok(rc == 2 and "needs TLS" in err and not any(s in out + err for s in secrets),
       "a target that needs TLS is named without its password (exit %d)" % rc, err)

    # What Basic cannot carry is refused before any traffic, without the URL.
    ngx.clear_log()
    rc, out, err = surge("run", "http://a%%3Ab:%s@%s%s" % (PW_URL, hp, private), "-d", "1s")
    ok(rc == 2 and "user name has a ':'" in err and "s3cr3t" not in err and not ngx.access_lines(),
       "a ':' in the user name: exit 2, nothing sent, the password not shown (exit %d)" % rc, err)
done()
