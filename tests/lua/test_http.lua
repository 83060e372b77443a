-- surge.proto.http: the request bytes (method, path, Host from the target,
-- headers, body, path lists and functions), options checked with file:line
-- and did-you-mean, the protocol and framing keys checked by the loader,
-- and `surge run URL` (a URL instead of a scenario file).
local t = require "tap"
local http = require "surge.proto.http"
local scenario = require "surge.scenario"
local target = require "surge.target"

local tgt = assert(target.parse("http://127.0.0.1:8080/x"))

local p = http.client { path = "/index.html" }.prepare(tgt)
t.is(p.request, "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
  "one path: a constant request, Host from the target")
t.is(p.framing.kind, "http", "framed by the engine's HTTP parser")
t.is(p.framing.head, false, "GET responses have bodies")
t.is(p.prepare, nil, "the prepared table has no prepare")

p = http.client { method = "HEAD" }.prepare(assert(target.parse("http://[::1]")))
t.is(p.request, "HEAD / HTTP/1.1\r\nHost: [::1]\r\n\r\n", "HEAD, IPv6 Host, port 80 left out")
t.is(p.framing.head, true, "HEAD: no response body")

t.is(http.client {}.prepare({ scheme = "https", host = "a.test", port = 443 }).request,
  "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", "https (once TLS lands): 443 left out of Host")
t.is(http.client {}.prepare({ scheme = "https", host = "a.test", port = 80 }).request,
  "GET / HTTP/1.1\r\nHost: a.test:80\r\n\r\n", "https on port 80: named")

p = http.client { method = "POST", path = "/api#frag", body = "abc",
  headers = { ["X-B"] = "2", ["Accept-Encoding"] = "gzip", Host = "example.test" } }.prepare(tgt)
t.is(p.request, "POST /api HTTP/1.1\r\nAccept-Encoding: gzip\r\nHost: example.test\r\nX-B: 2\r\n"
  .. "Content-Length: 3\r\n\r\nabc", "POST: headers sorted, a given Host kept, body with its length, no fragment")
t.is(http.client { method = "POST" }.prepare(tgt).request,
  "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 0\r\n\r\n", "POST without a body says 0")

local path = os.tmpname()
local f = assert(io.open(path, "wb")); f:write("file body"); f:close()
p = http.client { method = "PUT", body = { file = path } }.prepare(tgt)
t.ok(p.request:find("Content-Length: 9\r\n\r\nfile body", 1, true), "body from a file, read once")
os.remove(path)
-- io.open succeeds on a directory and read("*a") then fails: refused at
-- load, as a missing file is, never sent as an empty body.
local derr = select(2, pcall(function()
  local c = http.client { method = "POST", body = { file = "/" } }; return c end))
t.ok(tostring(derr):find("test_http.lua:%d+: http.client: body file: /: cannot read it %(Is a directory%)"),
  "a directory as the body file is refused, with the scenario's line: " .. tostring(derr))
derr = select(2, pcall(function()
  local c = http.client { body = { file = path } }; return c end))
t.ok(tostring(derr):find("body file: " .. path .. ": No such file", 1, true),
  "a missing body file is refused: " .. tostring(derr))

-- A list: whole requests made once, taken in turn.
p = http.client { path = { "/a", "/b" } }.prepare(tgt)
t.is(type(p.request), "function", "a path list: a request function")
local r1, r2, r3 = p.request({}), p.request({}), p.request({})
t.ok(r1:find("^GET /a ") and r2:find("^GET /b ") and r3:find("^GET /a "), "paths in turn")
t.ok(rawequal(r1, r3), "the same string each time (made once)")

-- Functions: per request.
local n = 0
p = http.client { method = "POST", path = function(ctx) n = n + 1; return "/item/" .. n end,
  body = function(ctx) return "n=" .. n end }.prepare(tgt)
t.is(p.request({}), "POST /item/1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 3\r\n\r\nn=1",
  "path and body functions")
local r, why = http.client { path = function() return "no-slash" end }.prepare(tgt).request({})
t.ok(r == nil and why == "bad path", "a generated path without '/' is a protocol error, not sent")

-- Options: errors at the caller's line, with did-you-mean.
local function err_of(fn)
  local ok, e = pcall(fn)
  return not ok and tostring(e) or nil
end
-- (not a tail call, or the caller's frame is gone, as it is not in a scenario)
local e = err_of(function() local c = http.client { pipelines = 4 }; return c end)
t.ok(e and e:find("no option 'pipelines' %(did you mean 'pipeline'%?%)"), "a typo: did you mean: " .. tostring(e))
t.ok(e and e:find("test_http.lua:%d+:"), "the error names the scenario's line")
e = err_of(function() local c = http.client { path = "index.html" }; return c end)
t.ok(e and e:find('test_http.lua:%d+: http.client: path "index.html" must start with \'/\'$'),
  "a path must start with /: " .. tostring(e))
e = err_of(function() local c = http.client { path = { "/a", "/b c" } }; return c end)
t.ok(e and e:find('path[2] "/b c" has a space at offset 3', 1, true),
  "a space in a listed path is named, with its place in the list: " .. tostring(e))
e = err_of(function() local c = http.client { path = "/a\tb" }; return c end)
t.ok(e and e:find('path "/a\\9b" has byte 0x09 at offset 3', 1, true),
  "a tab in a path is named by its byte: " .. tostring(e))
t.ok(err_of(function() return http.client { headers = { ["X"] = "a\r\nInjected: 1" } } end),
  "CR/LF in a header value refused")
-- RFC 9110 5.5: VCHAR, obs-text, SP, HTAB; every other control character too.
for _, v in ipairs { "a\1b", "a\127", "a\0b", "a\27[0m", "a\rb" } do
  e = err_of(function() local c = http.client { headers = { ["X-C"] = v } }; return c end)
  t.ok(e and e:find("test_http.lua:%d+: http.client: header X%-C: the value \"a\\%d+.-\" has byte 0x%x%x at "
    .. "offset 2 %(RFC 9110 5%.5: visible characters, space and tab only%)$"),
    ("control byte %d in a header value refused at load: %s"):format(v:byte(2), tostring(e)))
end
t.is(http.client { headers = { ["X-T"] = "a\tb c\128\255" } }.prepare(tgt).request,
  "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-T: a\tb c\128\255\r\n\r\n", "a tab, a space and obs-text bytes are allowed in a value")
e = err_of(function() local c = http.client { headers = { ["X-B"] = true } }; return c end)
t.ok(e and e:find("header X%-B: the value must be a string or a number %(got boolean%)$"),
  "a value that is not a string: " .. tostring(e))
o, lerr = scenario.load("http://127.0.0.1/", { { "header", "X-C: a\1b" } })
t.ok(o == nil and lerr == 'command line: header X-C: the value "a\\1b" has byte 0x01 at offset 2 '
  .. "(RFC 9110 5.5: visible characters, space and tab only)", "-H with a control character: " .. tostring(lerr))
-- RFC 3986: no control character in a path or a query either.
e = err_of(function() local c = http.client { path = "/a?q=\127" }; return c end)
t.ok(e and e:find('path "/a?q=\\127" has byte 0x7F at offset 6', 1, true), "DEL in a path: " .. tostring(e))
e = err_of(function() local c = http.client { path = { "/a", "/\1" } }; return c end)
t.ok(e and e:find('path[2] "/\\1" has byte 0x01 at offset 2', 1, true), "^A in a listed path: " .. tostring(e))
for _, bad in ipairs { "/a\1b", "/a\127", "/a b", "/a\r\nX: 1" } do
  r, why = http.client { path = function() return bad end }.prepare(tgt).request({})
  t.ok(r == nil and why == "bad path", ("a generated path with byte %d is protocol.bad_path, not sent")
    :format(bad:byte(3)))
end
t.ok(err_of(function() return http.client { headers = { ["Content-Length"] = "1" } } end),
  "Content-Length is set from the body, not by hand")
t.ok(err_of(function() return http.client { method = "GE T" } end), "a method is a token")
e = err_of(function() local c = http.client { headers = { Host = "a.test", host = "b.test" } }; return c end)
t.ok(e and e:find('test_http.lua:%d+: http.client: headers "Host" and "host" are the same field %(names are '
  .. "case%-insensitive, RFC 9110 5.1%): keep one$"), "two keys differing only in case are refused: " .. tostring(e))

-- The loader: protocol and framing keys are checked, with file:line.
local dir = os.getenv("TMPDIR") or "/tmp"
local function scn(text)
  local sp = ("%s/surge-test-http-%d.lua"):format(dir, math.random(1e9))
  local fh = assert(io.open(sp, "w")); fh:write(text); fh:close()
  return sp
end
local sp = scn('return {\n  target = "tcp://127.0.0.1:7000",\n  protocol = { framing = { kind = "fixed", size = 4 },\n'
  .. '    request = "ping", reponse = function() end },\n}\n')
local o, lerr = scenario.load(sp)
t.is(o, nil, "an unknown protocol key is refused")
t.is(lerr, sp .. ":3: option 'protocol': no key 'reponse' (did you mean 'response'?)",
  "file:line and did-you-mean for a protocol key")
sp = scn('return {\n  target = "tcp://127.0.0.1:7000",\n  protocol = { framing = { kind = "fixed", sise = 4 },\n'
  .. '    request = "ping" },\n}\n')
o, lerr = scenario.load(sp)
t.ok(o == nil and lerr:find("no key 'sise' for kind \"fixed\" %(did you mean 'size'%?%)"),
  "a framing key too: " .. tostring(lerr))
sp = scn('local http = require "surge.proto.http"\nreturn {\n  target = "http://127.0.0.1:8080",\n'
  .. '  protocol = http.client { path = "/x" },\n}\n')
o, lerr = scenario.load(sp)
t.ok(o and o.protocol.request == "GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
  "a scenario with http.client loads, its request made from the target: " .. tostring(lerr))
t.is(o and o.protocol.max_message, 8 * 1048576, "bodies up to 8 MiB by default")
-- Several targets: each connection's request is its own target's (Host,
-- Authorization), never the first's; the same bytes for all stay one.
-- A scenario of http.client on two targets, the first http://127.0.0.1:8080.
local function two_targets(second, path)
  local f = scn(('local http = require "surge.proto.http"\nreturn {\n'
    .. '  target = { "http://127.0.0.1:8080", "%s" },\n  protocol = http.client { path = %s },\n}\n')
    :format(second, path))
  local loaded, why = scenario.load(f)
  return loaded, why, f
end
o, lerr = two_targets("http://bob:pw@a.test:8081", '"/x"')
local bt = o and o.protocol.request_by_target
t.ok(bt and #bt == 2 and bt[1] == o.protocol.request
  and bt[1] == "GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
  and bt[2] == "GET /x HTTP/1.1\r\nHost: a.test:8081\r\nAuthorization: Basic Ym9iOnB3\r\n\r\n",
  "two targets: a request for each, with its Host and login: " .. tostring(lerr))
o, lerr = two_targets("http://127.0.0.1:8080", '"/x"')
t.ok(o and o.protocol.request_by_target == nil, "the same bytes for every target: one request")
o, lerr = two_targets("http://b.test:8081", '{ "/x", "/y" }')
local rq = o and o.protocol.request
local got = type(rq) == "function" and { rq { target = 1 }, rq { target = 2 }, rq { target = 2 } } or {}
t.ok(got[1] == "GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
  and got[2] == "GET /x HTTP/1.1\r\nHost: b.test:8081\r\n\r\n"
  and got[3] == "GET /y HTTP/1.1\r\nHost: b.test:8081\r\n\r\n",
  "made per request: ctx.target chooses the target's, each walking its paths: " .. tostring(lerr))
o, lerr, sp = two_targets("http://a%3Ab:s3cret@b.test:8081", '"/x"')
t.ok(o == nil and lerr:find(sp .. ":4: option 'protocol': target 2 (http://a%3Ab@b.test:8081): ", 1, true)
  and not lerr:find("s3cret", 1, true), "a target's bad login names which target: " .. tostring(lerr))
-- A prepare() that hands back one table each time: each target's request is
-- read as it was made, not the last target's for all.
sp = scn('local p = { framing = { kind = "fixed", size = 4 } }\n'
  .. 'p.prepare = function(t) p.request = ("%04d"):format(t.port % 10000); return p end\n'
  .. 'return { target = { "tcp://127.0.0.1:7001", "tcp://127.0.0.1:7002" }, protocol = p }\n')
o, lerr = scenario.load(sp)
bt = o and o.protocol.request_by_target
t.ok(bt and bt[1] == "7001" and bt[2] == "7002" and o.protocol.request == "7001",
  "one table from every prepare(): each target's own request: " .. tostring(lerr))
-- prepare() on tcp://127.0.0.1:7001 and :7002 returns the table that
-- `made` (Lua source, t the target) makes.
local function prepared(made)
  return scenario.load(scn('local p = { framing = { kind = "fixed", size = 4 } }\n'
    .. 'p.prepare = function(t) return ' .. made .. ' end\n'
    .. 'return { target = { "tcp://127.0.0.1:7001", "tcp://127.0.0.1:7002" }, protocol = p }\n'))
end
o, lerr = scenario.load(scn('local p = { framing = { kind = "fixed", size = 4 }, request = "ping" }\n'
  .. 'p.prepare = function(t) p.pipeline = t.port == 7001 and 2 or 9; return p end\n'
  .. 'return { target = { "tcp://127.0.0.1:7001", "tcp://127.0.0.1:7002" }, protocol = p }\n'))
t.ok(o and o.protocol.pipeline == 2, "one table from every prepare(): the other keys are the "
  .. "first target's, as made for it: " .. tostring(o and o.protocol.pipeline or lerr))
o, lerr = prepared('{ framing = p.framing,\n'
  .. '  request = t.port == 7001 and "ping" or function() return "ping" end }')
t.ok(o == nil and lerr:find("made request a string for target 1 and a function for target 2", 1, true),
  "requests of two kinds are refused, naming them: " .. tostring(lerr))
o, lerr = prepared('{ framing = p.framing, request = "ping",\n'
  .. '  connect = t.port == 7001 and function() end or nil }')
t.ok(o == nil and lerr:find("made connect a function for target 1 and a nil for target 2", 1, true),
  "a callback one target's prepare() leaves out is refused, not run for it: " .. tostring(lerr))
sp = scn('return { target = "tcp://127.0.0.1:7001", protocol = { prepare = function() return 42 end } }\n')
o, lerr = scenario.load(sp)
t.ok(o == nil and lerr:find("option 'protocol': its prepare() returned a number", 1, true),
  "a prepare() that returns no table is refused: " .. tostring(lerr))
local dup = scn('local http = require "surge.proto.http"\nreturn {\n  target = "http://127.0.0.1:8080",\n'
  .. '  protocol = http.client { headers = { ["X-Id"] = "1", ["x-id"] = "2" } },\n}\n')
o, lerr = scenario.load(dup)
t.ok(o == nil and lerr:find(dup .. ':4: http.client: headers "X-Id" and "x-id" are the same field', 1, true),
  "in a scenario: refused at load with its file:line: " .. tostring(lerr))
os.remove(dup)

-- surge run URL
o, lerr = scenario.load("http://127.0.0.1:8080/status?x=1")
t.ok(o ~= nil, "an http:// URL is a scenario: " .. tostring(lerr))
t.is(o and o.protocol.request, "GET /status?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
  "GET of the URL's path and query")
t.is(o and o.max_connections, 10, "wrk's default: 10 connections")
t.is(o and o.duration, 10, "wrk's default: 10 s")
o, lerr = scenario.load("http://127.0.0.1:8080?x=1")
t.is(o and o.protocol.request, "GET /?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
  "a query without a path asks for /?x=1 (RFC 9112 3.2.1), as curl does: " .. tostring(lerr))
o, lerr = scenario.load("http://127.0.0.1:8080/a b")
t.is(lerr, 'command line: path "/a b" has a space at offset 3: write it percent-encoded '
  .. "(%20 for a space, RFC 3986 2.1)", "a space in a URL's path is named as such")
o = scenario.load("http://127.0.0.1/", { { "connections", "100" }, { "duration", "2s" } })
t.ok(o and o.max_connections == 100 and o.duration == 2, "-c and -d apply to a URL")
o = scenario.load("http://127.0.0.1/", { { "requests", "3000" } })
t.ok(o and o.requests == 3000 and o.duration_unbounded == true,
  "-n alone on a URL is a count, not cut at wrk's 10 s, as -n ends a scenario's run")
o = scenario.load("http://127.0.0.1/", { { "requests", "3000" }, { "duration", "2s" } })
t.ok(o and o.requests == 3000 and o.duration == 2, "-n with -d on a URL: both, as -d says")
t.ok(o and o.protocol.request:find("Host: 127.0.0.1\r\n", 1, true), "port 80 by default")
o = scenario.load("tcp://127.0.0.1:7000")
t.is(o and o.protocol.name, "echo", "a tcp:// URL runs echo")
o, lerr = scenario.load("http://127.0.0.1/", { { "header", "Accept-Encoding: gzip" },
  { "header", "X-Test:  1 " } })
t.is(o and o.protocol.request, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n"
  .. "X-Test: 1\r\n\r\n", "-H adds headers to a URL run, as wrk's -H")
o, lerr = scenario.load("http://127.0.0.1/", { { "header", "Host: a.test" }, { "header", "host: b.test" },
  { "header", "X-A: 1" }, { "header", "X-A: 2" } })
t.is(o and o.protocol.request, "GET / HTTP/1.1\r\nX-A: 2\r\nhost: b.test\r\n\r\n",
  "a repeated -H keeps the last, names compared case-insensitively (one Host): " .. tostring(lerr))
o, lerr = scenario.load("http://127.0.0.1/", { { "header", "no colon" } })
t.ok(o == nil and lerr:find("%-H expects 'Name: value'"), "-H without a colon: " .. tostring(lerr))
o, lerr = scenario.load("rtsp://u:s3cret@127.0.0.1/")
t.ok(o == nil and lerr:find("write a scenario file for rtsp://", 1, true) and not lerr:find("s3cret"),
  "a URL of another scheme: named by its scheme, its password not repeated: " .. tostring(lerr))
o, lerr = scenario.load("tcp://127.0.0.1:7/", { { "header", "A: b" } })
t.ok(o == nil and lerr:find("is not http(s)://", 1, true), "-H on a tcp:// URL: " .. tostring(lerr))
o, lerr = scenario.load(sp, { { "header", "A: b" } })
t.ok(o == nil and lerr:find("a scenario file sets headers"), "-H with a scenario file: " .. tostring(lerr))
o, lerr = scenario.load("https://127.0.0.1/")
t.ok(o and o.targets[1].tls == true and o.targets[1].port == 443 and o.protocol.name == "http",
  "https:// runs HTTP over TLS, port 443: " .. tostring(lerr))
o, lerr = scenario.load("rtsp://127.0.0.1/")
t.ok(o == nil and lerr:find("http:// or https:// %(HTTP/1.1 GET%)"), "other schemes need a file: " .. tostring(lerr))
-- RFC 7617 2: a target's userinfo logs in with Basic, as curl does: user and
-- password percent-decoded (RFC 3986 2.1), no password sent as "user:".
local function auth_of(url, overrides)
  local c, err = scenario.load(url, overrides)
  if not c then return nil, err end
  return c.protocol.request:match("\r\nAuthorization: ([^\r]*)\r\n") or false, c.protocol.request
end
o, lerr = scenario.load("http://alice:secret@127.0.0.1:8080/x")
t.is(o and o.protocol.request, "GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
  .. "Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n", "a URL's user:password sends Basic: " .. tostring(lerr))
t.is(auth_of("http://a%40b.test:p%3Aq%25r@127.0.0.1/"), "Basic YUBiLnRlc3Q6cDpxJXI=",
  "percent-encoded user and password are decoded before encoding (%40, %3A, %25)")
t.is(auth_of("http://alice@127.0.0.1/"), "Basic YWxpY2U6", "no password: 'alice:', as curl")
t.is(auth_of("http://alice:@127.0.0.1/"), "Basic YWxpY2U6", "an empty password: 'alice:'")
t.is(auth_of("http://:pw@127.0.0.1/"), "Basic OnB3", "an empty user with a password")
t.is(auth_of("http://@127.0.0.1/"), false, "an empty userinfo sends nothing")
t.is(auth_of("http://127.0.0.1/"), false, "no userinfo, no Authorization")
t.is(auth_of("https://alice:secret@127.0.0.1/"), "Basic YWxpY2U6c2VjcmV0", "https:// the same")
local own, req = auth_of("http://alice:secret@127.0.0.1/", { { "header", "authorization: Bearer t0k" } })
t.ok(own == false and req:find("\r\nauthorization: Bearer t0k\r\n", 1, true)
  and not req:find("Basic", 1, true), "-H Authorization wins over the URL's, and alone")
p = http.client { headers = { AUTHORIZATION = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==" }, path = { "/a", "/b" } }
  .prepare(assert(target.parse("http://alice:secret@127.0.0.1/")))
r1 = p.request({})
t.ok(r1:find("\r\nAUTHORIZATION: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n", 1, true)
  and not r1:find("YWxpY2U6c2VjcmV0", 1, true), "http.client's own Authorization header wins")
p = http.client { path = { "/a", "/b" } }.prepare(assert(target.parse("http://alice:secret@127.0.0.1/")))
r1, r2 = p.request({}), p.request({})
t.ok(r1:find("^GET /a .*Authorization: Basic YWxpY2U6c2VjcmV0\r\n")
  and r2:find("^GET /b .*Authorization: Basic YWxpY2U6c2VjcmV0\r\n"), "every path of a list logs in")
-- RFC 7617 2: Basic cannot carry a ':' in the user-id (the server splits at
-- the first one) nor a control character: refused, without the password.
o, lerr = scenario.load("http://a%3Ab:secret@127.0.0.1/")
t.ok(o == nil and lerr:find("^command line: .*user name has a ':'") and not lerr:find("secret", 1, true),
  "a ':' in the user is refused, the password not shown: " .. tostring(lerr))
o, lerr = scenario.load("http://alice:se%0Acret@127.0.0.1/")
t.ok(o == nil and lerr:find("control character", 1, true) and not lerr:find("se%0Acret", 1, true),
  "a control character in the password is refused, the password not shown: " .. tostring(lerr))
t.ok(scenario.load("http://a%3Ab:se%0Acret@127.0.0.1/", { { "header", "Authorization: x" } }) ~= nil,
  "... unless the user's own Authorization is sent instead")
sp = scn('local http = require "surge.proto.http"\nreturn {\n  target = "http://a%3Ab:secret@127.0.0.1",\n'
  .. '  protocol = http.client {},\n}\n')
o, lerr = scenario.load(sp)
t.ok(o == nil and lerr:find(sp .. ":4: option 'protocol': http.client: the target's user name has a ':'", 1, true),
  "in a scenario file: refused at its protocol's line: " .. tostring(lerr))
os.remove(sp)
t.done()
