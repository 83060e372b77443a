-- rtsp.reader's options are checked like echo's, http's and dns's: a key
-- it does not know is an error at the scenario's line with a did-you-mean
-- (wach = "1s" ran silently with the default 60 s watch).
local t = require "tap"
local rtsp = require "surge.proto.rtsp"

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
t.done()
