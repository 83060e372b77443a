-- surge.scenario: bind, ports and pick — shapes, defaults, and errors that
-- name file:line and the option. (Address syntax itself is checked by the
-- engine's parser through the FFI; tests/e2e/t_bind_netns.py covers that.)
local t = require "tap"
local scenario = require "surge.scenario"

local dir = os.getenv("TMPDIR") or "/tmp"
local n = 0
local function scn(body)
  n = n + 1
  local path = ("%s/surge-test-bind-%d-%d.lua"):format(dir, os.time(), n)
  local f = assert(io.open(path, "w"))
  f:write('local echo = require "surge.proto.echo"\nreturn {\n  target = "tcp://127.0.0.1:7000",\n  protocol = echo.new {},\n' .. body .. "}\n")
  f:close()
  return path
end

local o, err = scenario.load(scn('  bind = { "127.0.0.1-127.0.0.8", "::1", pick = "permutation", ports = "40000-40999" },\n'))
t.is(o and o.bind, "127.0.0.1-127.0.0.8,::1", "bind entries joined for the engine: " .. tostring(err))
t.is(o and o.pick, "permutation", "bind.pick")
t.is(o and o.ports, "40000-40999", "bind.ports")

o = scenario.load(scn('  bind = "127.0.0.0/28",\n  ports = 40000,\n'))
t.is(o and o.bind, "127.0.0.0/28", "bind as one string")
t.is(o and o.pick, "round-robin", "pick defaults to round-robin")
t.is(o and o.ports, "40000-40000", "a single port is a range of one")

o = scenario.load(scn(''))
t.is(o and o.bind, nil, "no bind: the kernel chooses")
t.is(o and o.ports, nil, "no ports")

-- the command line wins
o = scenario.load(scn('  bind = { "127.0.0.1", pick = "random" },\n'), { { "bind", "127.0.0.0/24" }, { "pick", "permutation" }, { "ports", "20000-29999" } })
t.is(o and o.bind, "127.0.0.0/24", "--bind overrides")
t.is(o and o.pick, "permutation", "--pick overrides bind.pick")
t.is(o and o.ports, "20000-29999", "--ports")

-- errors: file:line, option, what is expected
local p = scn('  bind = { "127.0.0.1", pick = "rr" },\n')
o, err = scenario.load(p)
t.is(err, p .. ":5: option 'bind': bind.pick must be \"round-robin\", \"random\" or \"permutation\", got \"rr\"", "bad bind.pick")
p = scn('  bind = { "127.0.0.1", port = "1-2" },\n')
o, err = scenario.load(p)
t.is(err, p .. ":5: option 'bind': bind has no field 'port' (known: pick, ports, and addresses as list items)", "unknown bind field")
p = scn('  bind = { "127.0.0.1", 7 },\n')
o, err = scenario.load(p)
t.is(err, p .. ":5: option 'bind': bind entry 2 must be a string, got number 7", "non-string entry")
p = scn('  bind = {},\n')
o, err = scenario.load(p)
t.ok(err and err:find(p .. ":5: option 'bind': expected source addresses", 1, true), "empty bind: " .. tostring(err))
p = scn('  bind = { "127.0.0.1", ports = "3000-2000" },\n')
o, err = scenario.load(p)
t.ok(err and err:find(p .. ":5: option 'bind': bind.ports must be a port range", 1, true), "reversed bind.ports: " .. tostring(err))
p = scn('  connections = 10,\n  ports = "20000-70000",\n')
o, err = scenario.load(p)
t.is(err, p .. ":6: option 'ports': expected a port range like \"20000-29999\" (ports 1 to 65535, low to high), got \"20000-70000\"", "ports beyond 65535")
o, err = scenario.load(scn(''), { { "ports", "0-10" } })
t.ok(err and err:find("^command line: option 'ports'"), "bad --ports blamed on the command line: " .. tostring(err))
o, err = scenario.load(scn(''), { { "pick", "first" } })
t.ok(err and err:find("^command line: option 'pick': expected \"round%-robin\""), "bad --pick: " .. tostring(err))

os.execute("rm -f " .. dir .. "/surge-test-bind-*.lua")
t.done()
