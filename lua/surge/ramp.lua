-- surge.ramp: values that change over a run, for the `rate` and
-- `connections` options. A ramp is written in the scenario and compiled once,
-- before the run, into piecewise-linear segments that the C side integrates
-- (engine/pacer.c) or samples (engine/ramp_eval.c): no Lua runs per request.
--
--   ramp.stages { {"10s", 0, 20000}, {"30s", 20000}, {"10s", 20000, 0} }
--       {duration, from, to} ramps linearly from `from` to `to`;
--       {duration, value} holds `value`. (Unlike k6, a one-value stage holds:
--       every stage says where it starts, so a jump is written as one.)
--   ramp.linear { {"0s", 0}, {"10s", 20000} }
--       breakpoints {time, value}, straight lines between them
--   ramp.step { {"0s", 100}, {"10s", 200} }
--       each value holds until the next breakpoint
--   ramp.fn(function(t) return 1000 + 500 * math.sin(t) end, { step = "100ms" })
--       f(t seconds) sampled every `step` (default 100ms), straight lines between
--   ramp.constant(5000)
--
-- Values are numbers or counts like "20k"; times are durations like "10s".
-- Before its first breakpoint a ramp holds its first value; after its end it
-- holds its last. In linear and step a final breakpoint without a value,
-- {"30s"}, holds the previous value until then and ends the ramp there.
--
-- Natural length (ramp.duration): the sum of the stages, the last breakpoint
-- of a linear ramp, a step ramp's closing {time}, fn's `duration` option. A
-- constant, an unclosed step ramp and fn without `duration` have none: the
-- scenario must then give `duration`.
--
-- Errors: the constructors are called from scenario files, where a nil would
-- silently become "no ramp", so they raise with error(msg, 2) and the message
-- points at the scenario's file:line. compile and duration are called by the
-- loader and return nil, err (compile: and, for ramp.fn, where the function
-- is written).
local M = {}

local units = require "surge.units"

local type, tostring, pcall, ipairs = type, tostring, pcall, ipairs
local setmetatable, getmetatable = setmetatable, getmetatable
local next, format, concat = next, string.format, table.concat
local ceil, min = math.ceil, math.min

local RAMP = {}
RAMP.__tostring = function(r) return "ramp." .. r.kind end

-- Samples that ramp.fn may take: a 1-hour run at 100ms is 36000.
local MAX_SAMPLES = 1000000

local function describe(v, nested)
  if type(v) == "string" then return "'" .. v .. "'" end
  if type(v) == "number" then return tostring(v) end
  -- A short stage like {'10s'} shows what was written; anything else is "a table".
  if type(v) == "table" and not nested and #v <= 4 and next(v, #v > 0 and #v or nil) == nil then
    local parts = {}
    for i = 1, #v do parts[i] = describe(v[i], true) end
    return "{" .. concat(parts, ", ") .. "}"
  end
  return "a " .. type(v)
end

local function value(v)
  local x = units.count(v)
  if not x then return nil, format("expected a value like 100 or 20k, got %s", describe(v)) end
  return x
end

local function new(kind, segs, tail, length)
  return setmetatable({ kind = kind, segs = segs, tail = tail, length = length }, RAMP)
end

function M.is_ramp(v)
  return getmetatable(v) == RAMP
end

function M.constant(v)
  local x, err = value(v)
  if not x then error("ramp.constant: " .. err, 2) end
  return new("constant", {}, x, nil)
end

local function parse_stages(list)
  if type(list) ~= "table" or #list == 0 then
    return nil, format("expected a list of stages like { {\"10s\", 0, 100}, {\"30s\", 100} }, got %s",
      describe(list))
  end
  local segs, t, tail = {}, 0, nil
  for i, st in ipairs(list) do
    if type(st) ~= "table" or #st < 2 or #st > 3 then
      return nil, format("stage %d: expected {duration, value} or {duration, from, to}, got %s",
        i, describe(st))
    end
    local d, err = units.duration(st[1])
    if not d then return nil, format("stage %d: %s", i, err) end
    local from, to
    from, err = value(st[2])
    if not from then return nil, format("stage %d: %s", i, err) end
    to = from
    if st[3] ~= nil then
      to, err = value(st[3])
      if not to then return nil, format("stage %d: %s", i, err) end
    end
    if d > 0 then
      segs[#segs + 1] = { t, t + d, from, to }
    end
    t, tail = t + d, to
  end
  return new("stages", segs, tail, t)
end

function M.stages(list)
  local r, err = parse_stages(list)
  if not r then error("ramp.stages: " .. err, 2) end
  return r
end

-- Breakpoints for linear (hold = false) and step (hold = true).
local function parse_points(kind, list, hold)
  if type(list) ~= "table" or #list == 0 then
    return nil, format("expected a list of breakpoints like { {\"0s\", 0}, {\"10s\", 100} }, got %s",
      describe(list))
  end
  local segs, n = {}, #list
  local pt, pv, length
  for i, p in ipairs(list) do
    local closing = type(p) == "table" and #p == 1 and i == n and i > 1
    if type(p) ~= "table" or (#p ~= 2 and not closing) then
      return nil, format("breakpoint %d: expected {time, value}%s, got %s", i,
        i == n and i > 1 and " or a closing {time}" or "", describe(p))
    end
    local t, err = units.duration(p[1])
    if not t then return nil, format("breakpoint %d: %s", i, err) end
    local v = pv
    if not closing then
      v, err = value(p[2])
      if not v then return nil, format("breakpoint %d: %s", i, err) end
    end
    if pt and t < pt then
      return nil, format("breakpoint %d: time %s comes before breakpoint %d's %s", i,
        describe(p[1]), i - 1, describe(list[i - 1][1]))
    end
    if not pt and t > 0 then
      segs[1] = { 0, t, v, v }
    elseif pt and t > pt then
      segs[#segs + 1] = { pt, t, pv, hold and pv or v }
    end
    pt, pv = t, v
    if closing or not hold then length = t end
  end
  return new(kind, segs, pv, length)
end

function M.linear(list)
  local r, err = parse_points("linear", list, false)
  if not r then error("ramp.linear: " .. err, 2) end
  return r
end

function M.step(list)
  local r, err = parse_points("step", list, true)
  if not r then error("ramp.step: " .. err, 2) end
  return r
end

function M.fn(f, opts)
  if type(f) ~= "function" then
    error("ramp.fn: expected a function of time in seconds, got " .. describe(f), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("ramp.fn: expected options like { step = \"100ms\" }, got " .. describe(opts), 2)
  end
  opts = opts or {}
  local step, err = units.duration(opts.step or "100ms")
  if not step or step <= 0 then
    error("ramp.fn: step: " .. (err or "expected a duration above 0, got " .. describe(opts.step)), 2)
  end
  local length
  if opts.duration ~= nil then
    length, err = units.duration(opts.duration)
    if not length then error("ramp.fn: duration: " .. err, 2) end
  end
  local r = new("fn", nil, nil, length)
  r.f, r.step = f, step
  return r
end

function M.duration(r)
  if type(r) == "number" or (M.is_ramp(r) and r.kind == "constant") then
    return nil, "a constant rate or connection count has no length of its own: set duration"
  end
  if not M.is_ramp(r) then
    return nil, "expected a ramp (ramp.stages, ramp.linear, ...) or a number, got " .. describe(r)
  end
  if r.length then return r.length end
  if r.kind == "step" then
    return nil, "ramp.step has no end of its own: set duration, or close it with a final {\"30s\"}"
  end
  return nil, "ramp.fn has no length of its own: set duration, or pass { duration = \"30s\" }"
end

-- Where a function is written, "scn.lua:12" (nil for a C function).
local function defined_at(f)
  local info = debug.getinfo(f, "S")
  if info and info.what ~= "C" then return info.short_src .. ":" .. info.linedefined end
end

-- fn: samples at 0, step, 2*step ... and at the end, so the last piece is
-- shorter rather than running past it. Errors also return where the
-- function is written: that line, not the option's, is the one to fix.
local function sample(r, upto)
  local at = defined_at(r.f)
  local n = ceil(upto / r.step)
  if n > MAX_SAMPLES then
    return nil, format("ramp.fn: %.0f samples over %gs at a step of %gs, more than %d; "
      .. "use a larger step", n, upto, r.step, MAX_SAMPLES), at
  end
  local segs, pt, pv = {}, nil, nil
  for j = 0, n do
    local t = min(j * r.step, upto)
    local okc, got = pcall(r.f, t)
    if not okc then
      return nil, format("ramp.fn: the function failed at t=%gs: %s", t, tostring(got)), at
    end
    local v, err = value(got)
    if not v then
      return nil, format("ramp.fn: at t=%gs: %s", t, err), at
    end
    if pt and t > pt then segs[#segs + 1] = { pt, t, pv, v } end
    pt, pv = t, v
  end
  return segs, pv
end

function M.compile(r, duration)
  local d, err = units.duration(duration)
  if not d or d <= 0 then
    return nil, err or format("expected a duration above 0, got %s", describe(duration))
  end
  if type(r) == "number" or type(r) == "string" then
    local v
    v, err = value(r)
    if not v then return nil, err end
    return { { 0, d, v, v } }
  end
  if not M.is_ramp(r) then
    return nil, "expected a ramp (ramp.stages, ramp.linear, ...) or a number, got " .. describe(r)
  end
  local segs, tail = r.segs, r.tail
  if r.kind == "fn" then
    local at
    segs, tail, at = sample(r, r.length and min(r.length, d) or d)
    if not segs then return nil, tail, at end
  end
  local out, last = {}, 0
  for _, s in ipairs(segs) do
    local t0, t1, r0, r1 = s[1], s[2], s[3], s[4]
    if t0 >= d then break end
    if t1 > d then
      -- Cut inside this segment: keep the value the ramp has there.
      r1 = r0 + (r1 - r0) * ((d - t0) / (t1 - t0))
      t1 = d
    end
    out[#out + 1] = { t0, t1, r0, r1 }
    last = t1
  end
  if last < d then
    out[#out + 1] = { last, d, tail, tail }
  end
  return out
end

return M
