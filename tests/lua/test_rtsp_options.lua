-- rtsp.reader's options are checked like echo's, http's and dns's: a key
-- it does not know is an error at the scenario's line with a did-you-mean
-- (wach = "1s" ran silently with the default 60 s watch). And a scenario
-- of readers (session shape) is refused, at file:line and option, what
-- only message protocols can honour: rate made a bogus open-model report
-- (achieved 0%, "client may be the bottleneck"), connection_lifetime and
-- requests_per_connection did nothing, and requests was refused without
-- a line.
local t = require "tap"
local rtsp = require "surge.proto.rtsp"
local scenario = require "surge.scenario"

local function err(src)
  local chunk = assert(loadstring(src, "@scn.lua"))
  local ok, e = pcall(chunk)
  return not ok and tostring(e) or nil
end

t.is(err('local rtsp = require "surge.proto.rtsp"\nlocal p = rtsp.reader {\n  wach = "1s" }\n'),
  "scn.lua:2: rtsp.reader: no option 'wach' (did you mean 'watch'?)",
  "a misspelt key: the scenario's line, and the key it meant")
local e = err('local p = require("surge.proto.rtsp").reader { frobnicate = 1 }\n')
t.ok(e and e:find("^scn.lua:1: rtsp.reader: no option 'frobnicate' %(known: keepalive, password, range, ")
  ~= nil, "a far miss lists the options: " .. tostring(e))
t.ok((err('local p = require("surge.proto.rtsp").reader { [1] = "60s" }\n') or ""):find(
  "no option '1'", 1, true), "a list item is no option either")
t.ok((err('local p = require("surge.proto.rtsp").reader "60s"\n') or ""):find(
  "^scn.lua:1: rtsp.reader: expects a table of options"), "nor is a string")
local ok, p = pcall(rtsp.reader, { transport = "tcp", watch = "2s", keepalive = "1s", tracks = { 1 },
  range = true, timeout = "3s", url = "rtsp://127.0.0.1/x", user = "u", password = "p" })
t.ok(ok and p.shape == "session", "every documented option is taken (" .. tostring(ok and "" or p) .. ")")
t.ok(pcall(rtsp.reader) and pcall(rtsp.reader, {}), "no options at all: the defaults")
local dir = os.getenv("TMPDIR") or "/tmp"
local function scn(line)
  local path = ("%s/surge-test-rtsp-options-%d.lua"):format(dir, os.time())
  local f = assert(io.open(path, "w"))
  f:write('local rtsp = require "surge.proto.rtsp"\nreturn {\n  target = "rtsp://127.0.0.1:8554/cam",\n'
    .. '  protocol = rtsp.reader { watch = "1s" },\n  connections = 2,\n' .. line
    .. '  duration = "3s",\n}\n')
  f:close()
  return path
end
for _, c in ipairs {
  { "rate = 100", "rate paces requests" }, { 'arrival = "poisson"', "spaces" },
  { "requests = 10", "set a duration instead" }, { "pipeline = 4", "requests in flight" },
  { 'think = "1s"', "conn:sleep" }, { "backlog = 10", "backlog holds" },
  { 'pace_window = "0s"', "batches" }, { "requests_per_connection = 5", "after its watch" },
  { 'connection_lifetime = { "30s", jitter = "1s" }', "after its watch" },
  { "connection_rate = 10", "set connect_rate" },
  { 'samples = "s.bin"', "per second in --hlog" }, { "samples_every = 10", "thins" },
} do
  local path = scn("  " .. c[1] .. ",\n")
  local k = c[1]:match("^[%w_]+")
  local o, e = scenario.load(path)
  t.ok(o == nil and e and e:find(path .. ":6: option '" .. k .. "': protocol 'rtsp' runs sessions", 1, true)
    and e:find(c[2], 1, true), c[1] .. ": refused at file:6:" .. k .. " (" .. tostring(e) .. ")")
end
local o, e = scenario.load(scn(""), { { "requests", "10" } })
t.ok(o == nil and e and e:find("^command line: option 'requests': protocol 'rtsp' runs sessions")
  and e:find("(-n / -o requests=)", 1, true), "-n 10 is refused naming the flag: " .. tostring(e))
o, e = scenario.load(scn(""), { { "rate", "closed" } })
t.ok(o ~= nil, "-r closed (no rate at all) is fine: " .. tostring(e))
o, e = scenario.load(scn('  connect_rate = 50,\n  timeout = "2s",\n  drain = "1s",\n  start = "now",\n'))
t.ok(o ~= nil and o.connect_rate == 50, "what sessions do honour is taken: " .. tostring(e))
t.done()
