-- surge.units: durations, counts, rates and sizes as people write them.
local t = require "tap"
local units = require "surge.units"

local function approx(got, want, name)
  local good = type(got) == "number" and math.abs(got - want) <= 1e-12 * math.max(1, math.abs(want))
  t.ok(good, name)
  if not good then t.diag("got " .. tostring(got) .. ", want " .. tostring(want)) end
end

local function fails(fn, v, want, name)
  local got, err = fn(v)
  t.ok(got == nil and err == want, name)
  if got ~= nil or err ~= want then
    t.diag("got " .. tostring(got) .. ", " .. tostring(err))
  end
end

-- durations
for _, c in ipairs {
  { "10s", 10 }, { "500ms", 0.5 }, { "250us", 250e-6 }, { "1m", 60 }, { "1h", 3600 },
  { "1.5s", 1.5 }, { "100ns", 100e-9 }, { "10", 10 }, { "0.25", 0.25 }, { ".5s", 0.5 },
  { "1m30s", 90 }, { "1h30m", 5400 }, { "2m", 120 }, { "0s", 0 }, { " 3s ", 3 },
  { 7, 7 }, { 2.5, 2.5 }, { 0, 0 },
} do
  approx(units.duration(c[1]), c[2], "duration " .. tostring(c[1]) .. " = " .. c[2] .. " s")
end
for _, bad in ipairs { "x", "", "10x", "s", "-1s", "10 s", "1.2.3s", "1e3s", "0x10", "ms10",
  "10sec", "inf", "nan", "1m30" } do
  fails(units.duration, bad, "expected a duration like 10s, 500ms or 2m, got '" .. bad .. "'",
    "duration rejects '" .. bad .. "'")
end
fails(units.duration, -1, "expected a duration like 10s, 500ms or 2m, got -1", "duration rejects -1")
fails(units.duration, 0/0, "expected a duration like 10s, 500ms or 2m, got " .. tostring(0/0),
  "duration rejects NaN")
fails(units.duration, math.huge, "expected a duration like 10s, 500ms or 2m, got inf",
  "duration rejects inf")
fails(units.duration, {}, "expected a duration like 10s, 500ms or 2m, got a table",
  "duration rejects a table")
fails(units.duration, nil, "expected a duration like 10s, 500ms or 2m, got a nil",
  "duration rejects nil")

-- counts and rates: decimal multipliers
for _, c in ipairs {
  { "100", 100 }, { "50k", 50000 }, { "50K", 50000 }, { "1.5M", 1.5e6 }, { "2G", 2e9 },
  { "0", 0 }, { "1e3", 1000 }, { "0.5", 0.5 }, { 20000, 20000 },
} do
  approx(units.count(c[1]), c[2], "count " .. tostring(c[1]) .. " = " .. c[2])
end
for _, bad in ipairs { "1m", "k", "", "-5", "5x", "1.5 M", "0x10", "inf" } do
  fails(units.count, bad, "expected a count like 100, 50k or 1.5M, got '" .. bad .. "'",
    "count rejects '" .. bad .. "'")
end
fails(units.count, -3, "expected a count like 100, 50k or 1.5M, got -3", "count rejects -3")
approx(units.rate("50k/s"), 50000, "rate 50k/s = 50000")
approx(units.rate("100 / s"), 100, "rate '100 / s' = 100")
approx(units.rate("1.5M"), 1.5e6, "rate 1.5M = 1.5e6")
fails(units.rate, "50k/m", "expected a rate like 100, 50k or 1.5M (per second), got '50k/m'",
  "rate rejects 50k/m")

-- sizes: binary multipliers, whole bytes
for _, c in ipairs {
  { "64", 64 }, { "4k", 4096 }, { "4K", 4096 }, { "4KiB", 4096 }, { "4kb", 4096 },
  { "1M", 1048576 }, { "1MiB", 1048576 }, { "1m", 1048576 }, { "2G", 2147483648 },
  { "10b", 10 }, { "1.5k", 1536 }, { 512, 512 },
} do
  approx(units.size(c[1]), c[2], "size " .. tostring(c[1]) .. " = " .. c[2])
end
for _, bad in ipairs { "1.3k", "4x", "", "-1", "k", "0.5" } do
  fails(units.size, bad, "expected a size in bytes like 64, 4k or 1MiB, got '" .. bad .. "'",
    "size rejects '" .. bad .. "'")
end
fails(units.size, 1.5, "expected a size in bytes like 64, 4k or 1MiB, got 1.5", "size rejects 1.5")

t.done()
