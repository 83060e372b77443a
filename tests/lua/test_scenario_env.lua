-- -e KEY=VALUE reaches the scenario and its modules as surge.env.KEY, and
-- require finds a module written beside the scenario file.
local t = require "tap"
local scenario = require "surge.scenario"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir) == 0)
local function put(name, text)
  local f = assert(io.open(dir .. "/" .. name, "w")); f:write(text); f:close()
  return dir .. "/" .. name
end
put("sizes_" .. "mod.lua", 'local surge = require "surge"\nreturn { size = tonumber(surge.env.SIZE or "4") }\n')
local p = put("s.lua", 'local m = require "sizes_mod"\nlocal echo = require "surge.proto.echo"\n'
  .. 'return { target = "tcp://127.0.0.1:7000", protocol = echo.new { size = m.size } }\n')

local o, err = scenario.load(p, { { "env", "SIZE=16" } })
t.ok(o ~= nil, "a module beside the scenario is found by require: " .. tostring(err))
t.is(o and o.protocol.framing.size, 16, "-e SIZE=16 reaches the module as surge.env.SIZE")
t.is(require("surge").env.SIZE, "16", "surge.env holds the value as a string")
o, err = scenario.load(p, { { "env", "no-equals" } })
t.ok(o == nil and err:find("%-e expects KEY=VALUE"), "-e without KEY=VALUE is refused: " .. tostring(err))
os.execute("rm -rf " .. dir)
t.done()
