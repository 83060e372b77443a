-- surge.scenario: validation errors name file, line, option and what was
-- expected; command-line overrides win; defaults are filled in.
local t = require "tap"
local scenario = require "surge.scenario"

local dir = os.getenv("TMPDIR") or "/tmp"
local n = 0
local function write(text)
  n = n + 1
  local path = ("%s/surge-test-scenario-%d-%d.lua"):format(dir, os.time(), n)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local HEAD = 'local echo = require "surge.proto.echo"\nreturn {\n'
local function scn(body) return write(HEAD .. '  target = "tcp://127.0.0.1:7000",\n  protocol = echo.new {},\n' .. body .. "}\n") end
-- Each { scenario lines, part of the error } is refused with that error.
local function refuses(cases)
  for _, c in ipairs(cases) do
    local o, err = scenario.load(scn(c[1]))
    t.ok(o == nil and err and err:find(c[2], 1, true), "refused: " .. c[1]:gsub("\n", "") .. " -> "
         .. tostring(err))
  end
end

-- a good scenario
local p = scn('  connections = 50,\n  duration = "3s",\n')
local o, err = scenario.load(p)
t.ok(o ~= nil, "a valid scenario loads: " .. tostring(err))
t.is(o and o.duration, 3, "duration parsed to seconds")
t.is(o and o.max_connections, 50, "connections")
t.is(o and o.timeout, 5, "default request timeout 5 s")
t.is(o and o.arrival, "uniform", "default arrival uniform")

-- overrides win
o = scenario.load(p, { { "connections", "25k" }, { "duration", "1m" } })
t.is(o and o.max_connections, 25000, "-c 25k overrides the file")
t.is(o and o.duration, 60, "-d 1m overrides the file")

-- ill-typed option: file, line, option, expected, got
p = scn('  connections = "many",\n')
o, err = scenario.load(p)
t.is(o, nil, "ill-typed option refused")
t.is(err, p .. ":5: option 'connections': expected a whole number >= 1 (e.g. 200, 25k) or a ramp (surge.ramp), got \"many\"",
  "message names file:line, option, expectation and value")

-- unknown option: a near miss gets a suggestion
p = scn('  conections = 5,\n')
o, err = scenario.load(p)
t.is(err, p .. ":5: unknown option 'conections' (did you mean 'connections'?)", "typo gets 'did you mean'")
p = scn('  frobnicate = 5,\n')
o, err = scenario.load(p)
t.ok(err and err:find(":5: unknown option 'frobnicate' %(known: arrival, ") ~= nil, "far miss lists the known options: " .. tostring(err))

-- bad values from the command line are blamed on the command line
o, err = scenario.load(scn(""), { { "duration", "soon" } })
t.ok(err and err:find("^command line: option 'duration': expected") ~= nil, "bad -d blamed on the command line: " .. tostring(err))
o, err = scenario.load(scn(""), { { "conections", "5" } })
t.ok(err and err:find("command line: unknown option 'conections' (did you mean 'connections'?)", 1, true) ~= nil, "unknown -o key")

-- required options
p = write('return { protocol = require("surge.proto.echo").new {} }\n')
o, err = scenario.load(p)
t.ok(err and err:find("option 'target' is required", 1, true) ~= nil, "missing target: " .. tostring(err))
p = write('return { target = "tcp://127.0.0.1:1" }\n')
o, err = scenario.load(p)
t.ok(err and err:find("option 'protocol' is required", 1, true) ~= nil, "missing protocol")

-- errors inside the scenario keep their line; non-table results are explained
p = write('local x = nil\nreturn x.y\n')
o, err = scenario.load(p)
t.ok(err and err:find(p .. ":2:", 1, true) ~= nil, "a Lua error in the scenario names its line: " .. tostring(err))
p = write('return 42\n')
o, err = scenario.load(p)
t.ok(err and err:find("must return a table of options", 1, true) ~= nil, "a scenario must return a table")
o, err = scenario.load(dir .. "/does-not-exist.lua")
t.ok(err and err:find("cannot read scenario", 1, true) ~= nil and
  err:find("No such file or directory", 1, true) ~= nil, "missing file explained, with the system's reason")
o, err = scenario.load(dir)
t.ok(o == nil and err and err:find("Is a directory", 1, true) ~= nil,
  "a directory is not a scenario, and the message says so: " .. tostring(err))

-- error() with a value that is not a string: the file, the line and the value
for _, c in ipairs {
  { 'error({ code = 1, why = "x" })', 'raised the table { code = 1, why = "x" } instead of an error message' },
  { 'error()', "raised an error with no message (error() with no value)" },
  { 'error(true)', "raised the value true instead of an error message" },
  -- a table's __tostring speaks for it; a function is named, not its address
  { 'error(setmetatable({}, { __tostring = function() return "E9" end }))',
    "raised a table that prints as E9 instead of an error message" },
  { 'error({ f = print })', "raised the table { f = <function> } instead of an error message" },
  { 'error(print)', "raised a function instead of an error message" },
  -- a table that is its own key is said once, not followed for ever
  { 'local s = {}; s[s] = 1; error(s)', "raised the table { [{...}] = 1 } instead of an error message" },
} do
  p = write('local x = 1\n' .. c[1] .. '\nreturn {}\n')
  o, err = scenario.load(p)
  t.ok(o == nil and err and err:find(p .. ":2: the scenario " .. c[2], 1, true), c[1] .. ": " .. tostring(err))
end

-- a syntax error names the line
p = write('return {\n  connections = ,\n}\n')
o, err = scenario.load(p)
t.ok(err and err:find(p .. ":2:", 1, true) ~= nil, "syntax error names its line: " .. tostring(err))

-- The line blamed is where the scenario's own option is written: not a key
-- of the same name in a nested table or a comment, and found mid-line too.
local D = "expected a duration like 10s"
local DT = "expected a duration > 0 like 5s"
for _, c in ipairs {
  { HEAD .. '  target = "tcp://127.0.0.1:7000",\n  connections = 1,\n  protocol = echo.new { size = 64,\n'
    .. '    pipeline = 1 },\n  duration = "1s",\n  pipeline = 0,\n}\n', ":8: option 'pipeline'", "nested pipeline" },
  { HEAD .. '  target = "tcp://127.0.0.1:7000",\n  protocol = echo.new {},\n  -- timeout = "1s",\n'
    .. '  resolver = { servers = { "127.0.0.1" },\n    timeout = "2s" },\n  name = "timeout = 3",\n'
    .. '  description = [[\ntimeout = 1]],\n  timeout = "2x"\n}\n', ":11: option 'timeout': " .. DT,
    "nested timeout, a comment, strings" },
  { HEAD .. '  target = "tcp://127.0.0.1:7000", protocol = echo.new {},\n  connections = 5, timeout = "1x",\n}\n',
    ":4: option 'timeout': " .. DT, "an option mid-line" },
  { 'local echo = require "surge.proto.echo"\nreturn { target = "tcp://127.0.0.1:7000", '
    .. 'protocol = echo.new { size = 8 }, connections = 5, duration = "1x" }\n', ":2: option 'duration': " .. D,
    "a one-line scenario" },
  { 'local function f() return { timeout = 1 } end\nlocal o = {\n  target = "tcp://127.0.0.1:7000",\n'
    .. '  protocol = require("surge.proto.echo").new {},\n}\no.timeout = "1x"\nreturn o\n',
    ":6: option 'timeout': " .. DT, "a table built before return: the shallowest" },
} do
  p = write(c[1])
  o, err = scenario.load(p)
  t.ok(o == nil and err and err:find(p .. c[2], 1, true), c[3] .. ": " .. tostring(err))
end

-- ramps compile to breakpoints covering the duration
p = write(HEAD .. '  target = "tcp://127.0.0.1:7000",\n  protocol = echo.new {},\n  rate = require("surge.ramp").stages { {"2s", 0, 100}, {"3s", 100} },\n}\n')
o, err = scenario.load(p)
t.is(o and o.duration, 5, "duration defaults to the ramp's length")
t.ok(o and #o.rate >= 2, "rate compiled into segments")

-- Numbers: finite and in range, or exit 2 naming the line (NaN compares
-- false with every bound; math.huge never ends; 2^32 + 1 wrapped to 1).
for _, c in ipairs {
  { "duration = 0/0", "duration" }, { "duration = math.huge", "duration" },
  { "rate = 0/0", "rate" }, { "rate = math.huge", "rate" }, { "rate = 2e9", "rate" },
  { "connections = 0/0", "connections" }, { "connections = 4294967296", "connections" },
  { "connections = 0", "connections" }, -- would open and send nothing
  { "timeout = 1/0", "timeout" }, { "drain = 0/0", "drain" }, { "think = -1", "think" },
  { "connect_rate = 0/0", "connect_rate" }, { "backlog = math.huge", "backlog" },
  { "seed = 0/0", "seed" }, { "workers = 0/0", "workers" }, { "pipeline = 0/0", "pipeline" },
  { "resolve_every = 0/0", "resolve_every" }, { "resolver = { timeout = 0/0 }", "resolver" },
} do
  p = scn("  " .. c[1] .. ",\n")
  o, err = scenario.load(p)
  t.ok(o == nil and err and err:find(p .. ":5: option '" .. c[2] .. "'", 1, true) ~= nil,
    c[1] .. ": refused at its line: " .. tostring(err))
end
p = write(HEAD .. '  target = "tcp://127.0.0.1:7000",\n  protocol = { framing = { kind = "fixed", size = 0/0 }, request = "x" },\n}\n')
o, err = scenario.load(p)
t.ok(err and err:find("option 'protocol.framing.size'", 1, true) ~= nil, "framing size NaN refused: " .. tostring(err))
p = write(HEAD .. '  target = "tcp://127.0.0.1:7000",\n  protocol = { framing = { kind = "u16" }, request = "x", max_message = 1/0 },\n}\n')
o, err = scenario.load(p)
t.ok(err and err:find("option 'protocol.max_message'", 1, true) ~= nil, "max_message inf refused: " .. tostring(err))

-- duration = 0 passes the duration parser but never runs: blamed like any
-- other bad value, at its line or on its flag.
p = scn('  duration = 0,\n')
o, err = scenario.load(p)
t.ok(o == nil and err and err:find(p .. ":5: option 'duration': expected a duration > 0", 1, true),
  "duration = 0 at its line: " .. tostring(err))
for _, kv in ipairs { { "duration", "0" }, { "duration", "0s" } } do
  o, err = scenario.load(scn('  duration = "1s",\n'), { kv })
  t.ok(o == nil and err and err:find("^command line: option 'duration': expected a duration > 0")
    and err:find("(-d / -o duration=)", 1, true), "-d " .. kv[2] .. " blamed on the flag: " .. tostring(err))
end

-- From the command line: the flag is named.
o, err = scenario.load(scn(""), { { "connections", "4294967297" } })
t.ok(err and err:find("^command line: option 'connections': expected a whole number from 0 to 4294967295") and
  err:find("(-c / -o connections=)", 1, true), "-c 4294967297 refused, -c named: " .. tostring(err))
o, err = scenario.load(scn(""), { { "rate", "nan" } })
t.ok(err and err:find("(-r / -o rate=)", 1, true) and err:find("-r closed", 1, true),
  "-r nan refused, -r closed named: " .. tostring(err))
-- -r closed: a scenario with a rate runs the closed model.
o, err = scenario.load(scn('  rate = 500,\n  duration = "2s",\n'), { { "rate", "closed" } })
t.ok(o and o.rate_segs == nil and o.rate == nil, "-r closed drops the file's rate: " .. tostring(err))
o = scenario.load(scn('  rate = 500,\n  duration = "2s",\n'), {})
t.ok(o and (o.rate or o.rate_segs), "... which the file sets without it")
-- A wait of 0 is no wait: an RTSP reader timed out at once, a request never.
for _, k in ipairs { "timeout", "connect_timeout" } do
  o, err = scenario.load(scn(""), { { k, "0s" } })
  t.ok(err and err:find("option '" .. k .. "': expected a duration > 0", 1, true),
    k .. " 0s refused: " .. tostring(err))
end
o, err = scenario.load(scn(""), { { "duration", "1e400s" } })
t.ok(err and err:find("option 'duration'", 1, true), "-d 1e400s refused: " .. tostring(err))

-- -w has a cap, and the message says what to do instead.
o, err = scenario.load(scn(""), { { "workers", "100000" } })
t.ok(err and err:find("at most 1024 worker processes", 1, true) and err:find("ulimit -n", 1, true)
  and err:find("(-w / -o workers=)", 1, true), "-w 100000 refused with the fix: " .. tostring(err))
o = scenario.load(scn(""), { { "workers", "1024" } })
t.is(o and o.workers, 1024, "-w 1024 accepted")

-- A ramp.fn that cannot be compiled is an error at the function's line,
-- never a silent closed-model run.
local R = 'local ramp = require "surge.ramp"\n' .. HEAD .. '  target = "tcp://127.0.0.1:7000",\n  protocol = echo.new {},\n  duration = "2s",\n'
p = write(R .. '  rate = ramp.fn(function(t)\n    error("boom")\n  end),\n}\n')
o, err = scenario.load(p)
t.ok(o == nil and err and err:find("^" .. p:gsub("%p", "%%%0") .. ":7: option 'rate': ramp.fn: the function failed at t=0s: .*:8: boom"),
  "ramp.fn that raises: its file:line: " .. tostring(err))
p = write(R .. '  rate = ramp.fn(function(t) return 0/0 end),\n}\n')
o, err = scenario.load(p)
t.ok(o == nil and err and err:find(p .. ":7: option 'rate': ramp.fn: at t=0s:", 1, true),
  "ramp.fn that returns NaN: " .. tostring(err))
p = write(R .. '  connections = ramp.fn(function(t) return 1e12 end),\n}\n')
o, err = scenario.load(p)
t.ok(o == nil and err and err:find("option 'connections'", 1, true) and err:find("4294967295", 1, true),
  "a connections ramp above 2^32: " .. tostring(err))
p = write(R .. '  rate = ramp.fn(function(t) return 10 end, { step = "1ns" }),\n}\n')
o, err = scenario.load(p)
t.ok(o == nil and err and err:find(p .. ":7: option 'rate': ramp.fn: ", 1, true) and
  err:find("use a larger step", 1, true), "ramp.fn needing too many samples: " .. tostring(err))
p = write(R .. '  rate = ramp.fn(function(t) return 10 end),\n}\n')
o, err = scenario.load(p)
t.ok(o and #o.rate == 20, "a good ramp.fn still compiles: " .. tostring(err))

-- echo.new checks its option keys: a typo is never a run with the default.
local function with_echo(opts)
  return write(HEAD .. '  target = "tcp://127.0.0.1:7000",\n  protocol = echo.new ' .. opts .. ',\n}\n')
end
p = with_echo("{ sise = 16 }")
o, err = scenario.load(p)
t.ok(o == nil and err and err:find(p .. ":4: echo: no option 'sise' (did you mean 'size'?)", 1, true),
  "echo.new { sise = 16 } refused at its line: " .. tostring(err))
p = with_echo("{ size = 16, payload = ('x'):rep(16), pipeline = 2, verify = true }")
o, err = scenario.load(p)
t.ok(o and o.protocol.framing.size == 16, "echo.new with every option loads: " .. tostring(err))

-- A built-in name is its module with no options; one that needs options
-- (dns: queries) is refused at the line with what to write instead.
p = write('return {\n  target = "tcp://127.0.0.1:7000",\n  protocol = "dns",\n}\n')
o, err = scenario.load(p)
t.ok(o == nil and err and err:find(p .. ":3: option 'protocol': \"dns\" is surge.proto.dns with no "
  .. "options, which it refuses (dns.tcp: queries must be", 1, true)
  and err:find('write protocol = require("surge.proto.dns").new { ... }', 1, true),
  "protocol = \"dns\" names its line and the fix: " .. tostring(err))
p = write('return {\n  target = "tcp://127.0.0.1:7000",\n  protocol = "echo",\n}\n')
o, err = scenario.load(p)
t.ok(o and o.protocol.name == "echo", "protocol = \"echo\" loads: " .. tostring(err))

-- UDP: a udp:// target needs a protocol whose transport is "udp", and back
o, err = scenario.load(scn(""), { { "target", "udp://127.0.0.1:53" } })
t.ok(o == nil and err:find("is UDP but protocol 'echo' speaks TCP", 1, true),
  "udp:// with a TCP protocol is refused: " .. tostring(err))
local UDP_HEAD = 'local dns = require "surge.proto.dns"\nreturn {\n'
p = write(UDP_HEAD .. '  target = "udp://127.0.0.1:5353",\n  protocol = dns.udp { queries = { "a.test A" } },\n}\n')
o, err = scenario.load(p)
t.ok(o and o.protocol.transport == "udp" and o.protocol.framing.kind == "datagram",
  "udp:// with dns.udp loads, one message per datagram: " .. tostring(err))
p = write(UDP_HEAD .. '  target = "127.0.0.1:5353",\n  protocol = dns.udp { queries = { "a.test A" } },\n}\n')
o, err = scenario.load(p)
t.ok(o and o.protocol.transport == "udp", "host:port takes the protocol's transport: " .. tostring(err))
p = write(UDP_HEAD .. '  target = "tcp://127.0.0.1:5353",\n  protocol = dns.udp { queries = { "a.test A" } },\n}\n')
o, err = scenario.load(p)
t.ok(o == nil and err:find("speaks UDP but target 'tcp://127.0.0.1:5353' is tcp://", 1, true)
  and err:find(p .. ":3: option 'target'", 1, true),
  "tcp:// with a UDP protocol is refused at the target's line: " .. tostring(err))
for _, c in ipairs {
  { 'transport = "sctp", request = "x", framing = { kind = "u16" }', "protocol.transport" },
  { 'transport = "udp", session = function() end', "sessions need a stream" },
  { 'transport = "udp", request = "x", framing = { kind = "u16" }', "each datagram is one message" },
  { 'request = "x", framing = { kind = "datagram" }', "protocol.framing.kind" },
  { 'transport = "udp", request = "x", expired = 3', "protocol.expired" },
} do
  p = write('return {\n  target = "udp://127.0.0.1:5353",\n  protocol = { ' .. c[1] .. ' },\n}\n')
  o, err = scenario.load(p)
  t.ok(o == nil and err:find(c[2], 1, true), "bad UDP protocol (" .. c[2] .. "): " .. tostring(err))
end
p = write('return {\n  target = "udp://127.0.0.1:5353",\n  protocol = { transport = "udp", request = "ping" },\n}\n')
o, err = scenario.load(p)
t.ok(o and o.protocol.transport == "udp", "a user module declares transport = \"udp\": " .. tostring(err))

-- schemes: plaintext TCP ones run plain; TLS ones always over TLS; one that
-- needs UDP never runs
for _, u in ipairs { "tcp://127.0.0.1:7", "127.0.0.1:7", "rtsp://127.0.0.1/live", "dns://127.0.0.1",
                     "http://127.0.0.1:8080/" } do
  o, err = scenario.load(scn(""), { { "target", u } })
  t.ok(o ~= nil and o.targets[1].tls == false, "target " .. u .. " accepted as plain TCP: " .. tostring(err))
end
for _, c in ipairs { { "tls://127.0.0.1:853", 853 }, { "rtsps://127.0.0.1/live", 322 },
                     { "https://127.0.0.1", 443 }, { "TLS://[::1]:8853", 8853 } } do
  o, err = scenario.load(scn(""), { { "target", c[1] } })
  t.ok(o ~= nil and o.targets[1].tls == true and o.targets[1].port == c[2],
       c[1] .. " runs over TLS, port " .. c[2] .. ": " .. tostring(err))
end
for _, c in ipairs { { "tls://127.0.0.1", "tls://127.0.0.1:853 for DNS over TLS" },
                     { "dot://127.0.0.1", "DNS over TLS is tls://host:853" },
                     { "foo://127.0.0.1:1", "unknown scheme 'foo://'" } } do
  o, err = scenario.load(scn(""), { { "target", c[1] } })
  t.ok(o == nil and err:find("option 'target'", 1, true) and err:find(c[2], 1, true),
       c[1] .. " refused, never run as plaintext: " .. tostring(err))
end

-- tls: defaults, fields, the command line's flags, and every mistake named
o, err = scenario.load(scn(""), { { "target", "tls://dns.example:853" } })
t.ok(o and o.tls.verify == true and o.tls.resume == true and o.tls.ca == nil,
     "TLS verifies and resumes by default: " .. tostring(err))
local ca = write("not really a certificate, only readable")
o, err = scenario.load(scn('  tls = { ca = "' .. ca .. '", sni = "dns.example", alpn = { "dot", "h2" },\n'
  .. '          min_version = "1.2", max_version = 1.3, resume = false },\n'))
t.ok(o and o.targets[1].tls == true and o.tls.ca == ca and o.tls.sni == "dns.example" and
     o.tls.alpn == "dot,h2" and o.tls.min_version == 0x0303 and o.tls.max_version == 0x0304 and
     o.tls.resume == false, "a tls table turns TLS on for tcp:// targets, every field normalized: "
     .. tostring(err))
o, err = scenario.load(scn(""), { { "tls", "true" }, { "tls.ca", ca }, { "tls.sni", "x.example" },
                                  { "tls.verify", "false" } })
t.ok(o and o.targets[1].tls and o.tls.ca == ca and o.tls.sni == "x.example" and o.tls.verify == false,
     "--tls --tls-ca --sni --insecure: " .. tostring(err))
o, err = scenario.load(scn('  tls = { sni = "f.example" },\n'), { { "tls.ca", ca }, { "tls", "true" } })
t.ok(o and o.tls.ca == ca and o.tls.sni == "f.example",
     "--tls after --tls-ca keeps the file's and the flag's fields: " .. tostring(err))
refuses {
  { '  tls = { cafile = "x" },\n', ":5: option 'tls': tls has no field 'cafile' (known: alpn, ca, cert, " },
  { '  tls = { verify = "maybe" },\n', ":5: option 'tls': tls.verify must be true or false" },
  { '  tls = { min_version = "1.1" },\n', ":5: option 'tls': tls.min_version must be \"1.2\" or \"1.3\"" },
  { '  tls = { min_version = "1.3", max_version = "1.2" },\n', "tls.min_version is above tls.max_version" },
  { '  tls = { ca = "/nonexistent/ca.pem" },\n', ":5: option 'tls': tls.ca: cannot read '/nonexistent/ca.pem'" },
  { '  tls = { key = "' .. ca .. '" },\n', "tls.key needs tls.cert" },
  { '  tls = { alpn = { "a,b" } },\n', "tls.alpn entry 1 must be a protocol name" },
  { '  tls = 5,\n', ":5: option 'tls': expected true, false or a table" },
}
-- Beside an https:// target an http:// one stays plaintext: the table is
-- there for the https one's CA. A tcp:// target beside tls:// takes it.
o, err = scenario.load(write('local http = require "surge.proto.http"\nreturn {\n'
  .. '  target = { "http://127.0.0.1:8080", "https://127.0.0.1:8443" },\n'
  .. '  tls = { ca = "' .. ca .. '" }, protocol = http.client {},\n}\n'))
t.ok(o and o.targets[1].tls == false and o.targets[2].tls == true,
     "http:// beside https:// with a tls table: plaintext, the https one TLS: " .. tostring(err))
o, err = scenario.load(write(HEAD .. '  target = { "tcp://127.0.0.1:7000", "tls://127.0.0.1:853" },\n'
  .. '  protocol = echo.new {}, tls = { ca = "' .. ca .. '" },\n}\n'))
t.ok(o and #o.targets == 2 and o.targets[1].tls == true and o.targets[2].tls == true,
     "tcp:// beside tls:// with a tls table: both TLS: " .. tostring(err))
o, err = scenario.load(scn('  tls = false,\n'), { { "target", "tls://127.0.0.1:853" } })
t.ok(o == nil and err:find("option 'tls': false, but target 1 (tls://127.0.0.1:853) needs TLS", 1, true),
     "tls = false never runs a TLS scheme as plaintext: " .. tostring(err))

-- A threshold's value that is no condition is named for what it is, never
-- "got a table" (the thresholds table, not the value).
local TH = "  thresholds = {\n    %s,\n  },\n"
refuses {
  { TH:format('["latency.p99"] = {}'), ':6: option \'thresholds\': latency.p99 has an empty table, expected a condition like "< 5ms"' },
  -- the metric's own line, not `thresholds =`'s
  { '  thresholds = {\n    ["latency.p50"] = "< 5ms",\n    ["latency.p99"] = 5,\n  },\n', ':7: option \'thresholds\': latency.p99 has number 5' },
  { '  thresholds = { ["errors.rate"] = "< 1%", latency_p99 = 5 },\n  timeout = "1s", -- latency_p99 = 5\n', ':5: option \'thresholds\'' },
  { TH:format('["latency.p99"] = { abort = true }'), "latency.p99 has no condition, expected a condition like" },
  { TH:format('["latency.p99"] = 5'), 'option \'thresholds\': latency.p99 has number 5, expected a condition string like "< 5ms"' },
  { TH:format('["latency.p99"] = { 5 }'), "latency.p99 has number 5, expected a condition string" },
  { TH:format('"< 5ms"'), '[1] = "< 5ms" is not keyed by a metric: expected a table like' },
}
for _, th in ipairs { '["latency.p99"] = {}', '["latency.p99"] = 5' } do
  o, err = scenario.load(scn(TH:format(th)))
  t.ok(o == nil and not err:find("got a table", 1, true), th .. ": no \"got a table\": " .. tostring(err))
end

-- think = "1s" or { "1s", jitter = "250ms" }: each pause drawn around it.
o, err = scenario.load(scn('  think = { "1s", jitter = "250ms" },\n'))
t.ok(o and o.think == 1 and o.think_jitter == 0.25, "think with a jitter: " .. tostring(err))
o, err = scenario.load(scn('  think = "40ms",\n'))
t.ok(o and math.abs(o.think - 0.04) < 1e-12 and (o.think_jitter or 0) == 0, "a plain think: " .. tostring(err))
o, err = scenario.load(scn(""), { { "think", "0s" } })
t.ok(o and o.think == 0, "-o think=0s: no pause: " .. tostring(err))
refuses {
  { '  think = { "1s", jitter = "1s" },\n', ":5: option 'think': think's jitter must be a duration shorter than the pause (1s), got \"1s\"" },
  { '  think = { "1s", jiter = "1ms" },\n', ":5: option 'think': think has no field 'jiter' (known: the duration first, jitter)" },
  { '  think = { "0s", jitter = "1ms" },\n', ":5: option 'think': expected a duration like \"1s\", or { \"1s\", jitter = \"250ms\" }" },
  { '  connection_lifetime = { "1s", jitter = "2s" },\n', "connection_lifetime's jitter must be a duration shorter than the age (1s)" },
}

os.execute("rm -f " .. dir .. "/surge-test-scenario-*.lua")
t.done()
