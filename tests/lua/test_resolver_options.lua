-- Scenario options for target names: resolver, family, resolve_every.
local t = require "tap"
local scenario = require "surge.scenario"

local dir = os.tmpname()
os.remove(dir)
local n = 0

local function load(body, overrides)
  n = n + 1
  local path = dir .. "-" .. n .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write('local echo = require "surge.proto.echo"\nreturn {\n'
    .. '  target = "tcp://farm.test:7000",\n  protocol = echo.new {},\n' .. body .. "\n}\n")
  f:close()
  local cfg, err = scenario.load(path, overrides)
  os.remove(path)
  return cfg, err
end

local cfg, err = load("")
t.ok(cfg and cfg.family == "any" and cfg.resolve_every == "ttl" and cfg.resolver.servers == nil,
  "defaults: family any, re-resolve at the TTL, the system's resolver")

cfg, err = load('  resolver = { servers = { "127.0.0.1:5353", "[::1]:53", "10.0.0.1" },'
  .. ' timeout = "2s", tries = 3 },')
t.is(cfg and cfg.resolver.servers, "127.0.0.1:5353,[::1]:53,10.0.0.1", "servers joined for C")
t.is(cfg and cfg.resolver.timeout, 2, "timeout in seconds")
t.is(cfg and cfg.resolver.tries, 3, "tries")

cfg, err = load("", { { "resolver", "127.0.0.1:5353" } })
t.is(cfg and cfg.resolver.servers, "127.0.0.1:5353", "--resolver gives the servers")

cfg, err = load('  resolver = { servers = { "10.0.0.1" }, timeout = "300ms" },',
  { { "resolver", "127.0.0.1:5353" } })
t.ok(cfg and cfg.resolver.servers == "127.0.0.1:5353" and cfg.resolver.timeout == 0.3,
  "--resolver replaces the servers and keeps the file's timeout")

cfg, err = load('  resolver = { servers = { "ns.example.net" } },')
t.ok(not cfg and err:find(":5: option 'resolver'", 1, true) and err:find('"ns.example.net"', 1, true),
  "a server name is refused with file:line and the entry: " .. tostring(err))

cfg, err = load('  resolver = { servers = { "127.0.0.1:99999" } },')
t.ok(not cfg and err:find("not an IP address", 1, true), "a port out of range is refused")

cfg, err = load('  resolver = { server = "127.0.0.1" },')
t.ok(not cfg and err:find("unknown field 'server'", 1, true), "an unknown field is named")

cfg, err = load('  resolver = { timeout = "soon" },')
t.ok(not cfg and err:find("timeout: a duration", 1, true), "a bad timeout is refused")

cfg, err = load('  resolver = { tries = 0 },')
t.ok(not cfg and err:find("tries:", 1, true), "tries 0 is refused")

cfg, err = load('  resolver = { servers = {} },')
t.ok(not cfg and err:find("servers:", 1, true), "an empty server list is refused")

cfg, err = load('  family = "ipv6",')
t.is(cfg and cfg.family, "ipv6", "family ipv6")
cfg, err = load('  family = "inet6",')
t.ok(not cfg and err:find("one of any, ipv4, ipv6", 1, true), "an unknown family is refused")

cfg, err = load('  resolve_every = "30s",')
t.is(cfg and cfg.resolve_every, 30, "resolve_every 30s")
cfg, err = load('  resolve_every = "never",')
t.is(cfg and cfg.resolve_every, "never", "resolve_every never")
cfg, err = load('  resolve_every = "0s",')
t.ok(not cfg and err:find("resolve_every", 1, true), "resolve_every 0 is refused")

t.done()
