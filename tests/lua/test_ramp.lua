-- surge.ramp: ramps compile to contiguous piecewise-linear segments covering
-- [0, duration]; constructor errors name the stage and point at the caller.
local t = require "tap"
local ramp = require "surge.ramp"

local function segs_str(segs)
  local parts = {}
  for i, s in ipairs(segs) do
    parts[i] = string.format("{%g,%g,%g,%g}", s[1], s[2], s[3], s[4])
  end
  return table.concat(parts, " ")
end

local function compiles(r, d, want, name)
  local got, err = ramp.compile(r, d)
  if not got then
    t.ok(false, name)
    t.diag(err)
    return
  end
  t.is(segs_str(got), want, name)
end

-- Raises, with the message pointing at this file and the line of the call.
local function raises(fn, want, name)
  local line = debug.getinfo(2, "l").currentline
  local okc, err = pcall(fn)
  local where = "test_ramp.lua:" .. line .. ": "
  local good = not okc and type(err) == "string" and err:find(where, 1, true) ~= nil
    and err:sub(-#want) == want
  t.ok(good, name)
  if not good then t.diag("got: " .. tostring(err)) t.diag("want: ..." .. where .. want) end
end

-- Every compiled ramp must be contiguous from 0 to the duration.
local function covers(segs, d)
  if #segs == 0 or segs[1][1] ~= 0 or segs[#segs][2] ~= d then return false end
  for i, s in ipairs(segs) do
    if s[2] <= s[1] or (i > 1 and segs[i - 1][2] ~= s[1]) then return false end
  end
  return true
end

-- stages
local st = ramp.stages { { "10s", 0, 20000 }, { "30s", 20000 }, { "10s", 20000, 0 } }
t.ok(ramp.is_ramp(st), "stages: is a ramp")
t.is(ramp.duration(st), 50, "stages: natural length is the sum of the stages")
compiles(st, 50, "{0,10,0,20000} {10,40,20000,20000} {40,50,20000,0}", "stages: as written")
compiles(st, 60, "{0,10,0,20000} {10,40,20000,20000} {40,50,20000,0} {50,60,0,0}",
  "stages: shorter than the run, the last value holds")
compiles(st, 45, "{0,10,0,20000} {10,40,20000,20000} {40,45,20000,10000}",
  "stages: longer than the run, cut where the ramp is")
compiles(st, "40s", "{0,10,0,20000} {10,40,20000,20000}", "stages: cut on a boundary")
compiles(ramp.stages { { "5s", "1k", "2k" }, { "0s", 7 }, { "500ms", 3000 } }, 6,
  "{0,5,1000,2000} {5,5.5,3000,3000} {5.5,6,3000,3000}",
  "stages: counts like 1k, zero-length stages vanish, jumps")

raises(function() ramp.stages { { "10s", 0, 100 }, { "3x", 100 } } end,
  "ramp.stages: stage 2: expected a duration like 10s, 500ms or 2m, got '3x'",
  "stages: a bad duration names the stage")
raises(function() ramp.stages { { "10s", 0, 100 }, { "3s", -1 } } end,
  "ramp.stages: stage 2: expected a value like 100 or 20k, got -1",
  "stages: a negative value names the stage")
raises(function() ramp.stages { { "10s", 0, "lots" } } end,
  "ramp.stages: stage 1: expected a value like 100 or 20k, got 'lots'",
  "stages: a bad end value names the stage")
raises(function() ramp.stages { { "10s", 0 }, { "10s" } } end,
  "ramp.stages: stage 2: expected {duration, value} or {duration, from, to}, got {'10s'}",
  "stages: a stage without a value")
raises(function() ramp.stages { { "10s", 0 }, "10s" } end,
  "ramp.stages: stage 2: expected {duration, value} or {duration, from, to}, got '10s'",
  "stages: a stage that is not a table")
raises(function() ramp.stages {} end,
  "ramp.stages: expected a list of stages like { {\"10s\", 0, 100}, {\"30s\", 100} }, got {}",
  "stages: empty")

-- linear
local lin = ramp.linear { { "0s", 0 }, { "10s", 20000 } }
t.is(ramp.duration(lin), 10, "linear: natural length is the last breakpoint")
compiles(lin, 10, "{0,10,0,20000}", "linear: one line")
compiles(lin, 15, "{0,10,0,20000} {10,15,20000,20000}", "linear: holds its last value")
compiles(lin, 2.5, "{0,2.5,0,5000}", "linear: cut")
compiles(ramp.linear { { "2s", 100 }, { "4s", 300 }, { "4s", 50 }, { "6s", 50 }, { "8s" } }, 10,
  "{0,2,100,100} {2,4,100,300} {4,6,50,50} {6,8,50,50} {8,10,50,50}",
  "linear: holds the first value before it, jumps at a repeated time, closing {time}")
t.is(ramp.duration(ramp.linear { { "0s", 1 }, { "5s", 2 }, { "7s" } }), 7,
  "linear: a closing {time} sets the length")
raises(function() ramp.linear { { "0s", 0 }, { "10s", 5 }, { "5s", 1 } } end,
  "ramp.linear: breakpoint 3: time '5s' comes before breakpoint 2's '10s'",
  "linear: times must not go back")
raises(function() ramp.linear { { "0s" }, { "10s", 5 } } end,
  "ramp.linear: breakpoint 1: expected {time, value}, got {'0s'}",
  "linear: only the last breakpoint may close")
raises(function() ramp.linear { { "0s", 1 }, { "1s", 2, 3 } } end,
  "ramp.linear: breakpoint 2: expected {time, value} or a closing {time}, got {'1s', 2, 3}",
  "linear: three values")
raises(function() ramp.linear(5) end,
  "ramp.linear: expected a list of breakpoints like { {\"0s\", 0}, {\"10s\", 100} }, got 5",
  "linear: not a list")

-- step
local stp = ramp.step { { "0s", 100 }, { "10s", 200 } }
local d, err = ramp.duration(stp)
t.ok(d == nil and err:find("close it with a final", 1, true),
  "step: no natural length unless closed: " .. tostring(err))
compiles(stp, 25, "{0,10,100,100} {10,25,200,200}", "step: each value holds until the next")
compiles(stp, 5, "{0,5,100,100}", "step: cut")
local closed = ramp.step { { "0s", 100 }, { "10s", 200 }, { "30s" } }
t.is(ramp.duration(closed), 30, "step: a closing {time} sets the length")
compiles(closed, 30, "{0,10,100,100} {10,30,200,200}", "step: closed")
raises(function() ramp.step { { "0s", 100 }, { "1x", 200 } } end,
  "ramp.step: breakpoint 2: expected a duration like 10s, 500ms or 2m, got '1x'",
  "step: bad time names the breakpoint")

-- fn
local f = ramp.fn(function(s) return 100 * s end, { step = "1s" })
t.ok(ramp.is_ramp(f), "fn: is a ramp")
t.ok(ramp.duration(f) == nil, "fn: no natural length without a duration option")
compiles(f, 3, "{0,1,0,100} {1,2,100,200} {2,3,200,300}", "fn: sampled each step, lines between")
compiles(f, 2.5, "{0,1,0,100} {1,2,100,200} {2,2.5,200,250}", "fn: the last sample is at the end")
local fd = ramp.fn(function(s) return 10 end, { step = "500ms", duration = "1s" })
t.is(ramp.duration(fd), 1, "fn: duration option is its length")
compiles(fd, 2, "{0,0.5,10,10} {0.5,1,10,10} {1,2,10,10}", "fn: extended past its duration")
local fdef = ramp.compile(ramp.fn(function() return 1 end), 1)
t.is(#fdef, 10, "fn: default step is 100ms")
local okc, ferr = ramp.compile(ramp.fn(function(s) if s > 1 then error("boom") end return 1 end,
  { step = "1s" }), 3)
t.ok(okc == nil and ferr:find("ramp.fn: the function failed at t=2s:", 1, true) and ferr:find("boom"),
  "fn: an error in the function names the time: " .. tostring(ferr))
okc, ferr = ramp.compile(ramp.fn(function(s) return s < 1 and 1 or "many" end, { step = "1s" }), 3)
t.is(ferr, "ramp.fn: at t=1s: expected a value like 100 or 20k, got 'many'", "fn: a bad value names the time")
okc, ferr = ramp.compile(ramp.fn(function() return 1 end, { step = "1us" }), 3600)
t.ok(okc == nil and ferr:find("use a larger step", 1, true), "fn: too many samples: " .. tostring(ferr))
raises(function() ramp.fn(5) end, "ramp.fn: expected a function of time in seconds, got 5",
  "fn: not a function")
raises(function() ramp.fn(print, { step = "0s" }) end,
  "ramp.fn: step: expected a duration above 0, got '0s'", "fn: zero step")
raises(function() ramp.fn(print, { step = "fast" }) end,
  "ramp.fn: step: expected a duration like 10s, 500ms or 2m, got 'fast'", "fn: bad step")
raises(function() ramp.fn(print, "100ms") end,
  "ramp.fn: expected options like { step = \"100ms\" }, got '100ms'", "fn: options not a table")

-- constants and plain values
compiles(ramp.constant("5k"), 10, "{0,10,5000,5000}", "constant: one segment")
compiles(500, 10, "{0,10,500,500}", "compile: a number is a constant")
compiles("2k", "1m", "{0,60,2000,2000}", "compile: a count string is a constant")
t.ok(ramp.duration(500) == nil and ramp.duration(ramp.constant(1)) == nil,
  "duration: a constant has none")
t.ok(not ramp.is_ramp(500) and not ramp.is_ramp({}) and not ramp.is_ramp(nil), "is_ramp: only ramps")
raises(function() ramp.constant(-1) end, "ramp.constant: expected a value like 100 or 20k, got -1",
  "constant: negative")

okc, ferr = ramp.compile(st, 0)
t.is(ferr, "expected a duration above 0, got 0", "compile: duration 0")
okc, ferr = ramp.compile(st, "forever")
t.is(ferr, "expected a duration like 10s, 500ms or 2m, got 'forever'", "compile: bad duration")
okc, ferr = ramp.compile({}, 10)
t.is(ferr, "expected a ramp (ramp.stages, ramp.linear, ...) or a number, got {}",
  "compile: not a ramp")
okc, ferr = ramp.compile("x", 10)
t.is(ferr, "expected a value like 100 or 20k, got 'x'", "compile: bad constant")
d, err = ramp.duration({})
t.ok(d == nil and err:find("expected a ramp", 1, true), "duration: not a ramp")

-- Whatever the ramp and duration, the segments cover [0, d] without gaps.
local all = { st, lin, stp, closed, f, fd, ramp.constant(3),
  ramp.linear { { "1s", 5 }, { "1s", 9 }, { "2.3s", 1 } } }
local bad = 0
for _, r in ipairs(all) do
  for _, dd in ipairs { 0.1, 1, 2.3, 9.999, 10, 33.3, 50, 100 } do
    local segs = ramp.compile(r, dd)
    if not segs or not covers(segs, dd) then bad = bad + 1 end
  end
end
t.is(bad, 0, "compile: contiguous, non-empty segments from 0 to the duration")

t.done()
