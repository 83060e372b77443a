-- surge.units: the human spellings of durations, counts, rates and sizes,
-- parsed once at the edge. Every parser takes a string or a number and
-- returns the value, or nil and a message saying what was expected.
--
--   duration("10s") -> 10      seconds; ns us ms s m h, compounds ("1m30s"),
--   duration("1.5s") -> 1.5    decimals; a plain number is seconds
--   count("50k") -> 50000      decimal: k = 1e3, M = 1e6, G = 1e9
--   rate("1.5M/s") -> 1500000  a count per second ("/s" optional)
--   size("4k") -> 4096         binary: k = KiB = 1024, M = MiB, G = GiB;
--                              "b"/"B" and "KB"/"MB" spellings too; whole bytes
--
-- Counts use decimal multipliers (people write 50k req/s meaning 50000);
-- sizes use binary ones (4k of payload means a 4096-byte page), as wrk does.
-- A lowercase "m" is refused in counts: it could mean milli or mega.
local M = {}

local type, tonumber, tostring = type, tonumber, tostring
local match, format, lower = string.match, string.format, string.lower
local floor, huge = math.floor, math.huge

local DURATION_UNITS = { ns = 1e-9, us = 1e-6, ms = 1e-3, s = 1, m = 60, h = 3600 }
local COUNT_UNITS = { [""] = 1, k = 1e3, K = 1e3, M = 1e6, G = 1e9 }
local SIZE_UNITS = {
  [""] = 1, b = 1,
  k = 1024, kb = 1024, kib = 1024,
  m = 1048576, mb = 1048576, mib = 1048576,
  g = 1073741824, gb = 1073741824, gib = 1073741824,
}

local function describe(v)
  if type(v) == "string" then return "'" .. v .. "'" end
  if type(v) == "number" then return tostring(v) end
  return "a " .. type(v)
end

-- A plain decimal (no hex, no sign, no inf/nan spellings that tonumber takes).
local function decimal(s)
  if match(s, "^%d+%.?%d*$") or match(s, "^%.%d+$")
    or match(s, "^%d+%.?%d*[eE][-+]?%d+$") then
    return tonumber(s)
  end
end

local function finite(n)
  return n == n and n >= 0 and n < huge
end

local function trim(s)
  return match(s, "^%s*(.-)%s*$")
end

local DURATION_ERR = "expected a duration like 10s, 500ms or 2m, got %s"

function M.duration(v)
  if type(v) == "number" then
    if finite(v) then return v end
    return nil, format(DURATION_ERR, describe(v))
  end
  if type(v) ~= "string" then return nil, format(DURATION_ERR, describe(v)) end
  local s = trim(v)
  local plain = decimal(s)
  if plain then return plain end
  local total, pos, n = 0, 1, #s
  if n == 0 then return nil, format(DURATION_ERR, describe(v)) end
  while pos <= n do
    local num, unit = match(s, "^(%d*%.?%d*)(%a+)", pos)
    local x = num and decimal(num)
    local scale = unit and DURATION_UNITS[unit]
    if not x or not scale then return nil, format(DURATION_ERR, describe(v)) end
    total = total + x * scale
    pos = pos + #num + #unit
  end
  return total
end

local COUNT_ERR = "expected a count like 100, 50k or 1.5M, got %s"
local RATE_ERR = "expected a rate like 100, 50k or 1.5M (per second), got %s"

local function scaled(v, units, err)
  if type(v) == "number" then
    if finite(v) then return v end
    return nil, format(err, describe(v))
  end
  if type(v) ~= "string" then return nil, format(err, describe(v)) end
  local num, unit = match(trim(v), "^(.-)(%a*)$")
  local x, scale = decimal(num), units[unit]
  if not x or not scale or not finite(x * scale) then
    return nil, format(err, describe(v))
  end
  return x * scale
end

function M.count(v)
  return scaled(v, COUNT_UNITS, COUNT_ERR)
end

function M.rate(v)
  if type(v) == "string" then
    local s = match(trim(v), "^(.-)%s*/%s*s$")
    if s then return scaled(s, COUNT_UNITS, RATE_ERR) end
  end
  return scaled(v, COUNT_UNITS, RATE_ERR)
end

local SIZE_ERR = "expected a size in bytes like 64, 4k or 1MiB, got %s"

function M.size(v)
  local x
  if type(v) == "string" then
    local num, unit = match(trim(v), "^(.-)(%a*)$")
    local scale = SIZE_UNITS[lower(unit)]
    x = decimal(num)
    x = x and scale and x * scale
  elseif type(v) == "number" then
    x = v
  end
  if not x or not finite(x) or x ~= floor(x) then
    return nil, format(SIZE_ERR, describe(v))
  end
  return x
end

return M
