-- Big-endian (network order) integers on FFI byte pointers, so protocol
-- modules stop shifting bytes by hand. ptr is a uint8_t* (const or not),
-- i a 0-based offset; nothing is bounds-checked: check i + width <= len
-- first, as a framing function does. u64 returns a uint64_t cdata (every
-- value is exact); the rest return Lua numbers. A put takes an integer in
-- its width's range, a number or a number cdata (put_u64: a uint64_t or a
-- non-negative int64_t): anything else (-1, 2^32 + 7 for put_u32, 3.7, nan,
-- "7", nil) is an error at the caller's line, because writing it modulo the
-- width would put bytes on the wire the module never meant (-1 as ff ff ff
-- ff, or 80 00 .. 00 in 64).
local ffi = require "ffi"
local bit = require "bit"

local band, bor, rshift = bit.band, bit.bor, bit.rshift
local u64, i64 = ffi.typeof("uint64_t"), ffi.typeof("int64_t")

local M = {}

function M.u8(p, i) return p[i] end

function M.u16(p, i) return p[i] * 256 + p[i + 1] end

function M.u32(p, i)
  return ((p[i] * 256 + p[i + 1]) * 256 + p[i + 2]) * 256 + p[i + 3]
end

function M.u64(p, i)
  return u64(M.u32(p, i)) * 4294967296ULL + u64(M.u32(p, i + 4))
end

-- level: of the put's caller, from here (3 when a put calls bad).
local function bad(what, v, max, level)
  local msg
  if type(v) == "number" or ffi.istype(u64, v) or ffi.istype(i64, v) then
    msg = ("surge.wire.%s: %s is not an integer from 0 to %s"):format(what, tostring(v), max)
  else
    -- by type: a table's or a pointer's address tells nobody anything
    msg = ("surge.wire.%s: the value is %s, not an integer from 0 to %s"):format(what,
      type(v) == "string" and ('a string (%q)'):format(v) or type(v) == "nil" and "nil"
      or "a " .. type(v), max)
  end
  error(msg, level or 3)
end

-- Not a Lua number: one that a number cdata holds (a u64 read back), else
-- an error at the put's caller. Comparing a string or nil with 0 raised
-- "attempt to compare" at a line of this file instead.
local function number(what, v, max)
  local n = type(v) == "cdata" and tonumber(v)
  if not n then bad(what, v, max, 4) end
  return n
end

-- One compare chain per put, nan failing it; the error stays off the trace.
function M.put_u8(p, i, v)
  if type(v) ~= "number" then v = number("put_u8", v, "255") end
  if not (v >= 0 and v <= 0xff and v % 1 == 0) then bad("put_u8", v, "255") end
  p[i] = v
end

function M.put_u16(p, i, v)
  if type(v) ~= "number" then v = number("put_u16", v, "65535") end
  if not (v >= 0 and v <= 0xffff and v % 1 == 0) then bad("put_u16", v, "65535") end
  p[i] = band(rshift(v, 8), 0xff)
  p[i + 1] = band(v, 0xff)
end

local function put32(p, i, v)
  -- bit ops work on 32-bit signed values: 0xffffffff is -1, same bytes
  v = bor(v, 0)
  p[i] = band(rshift(v, 24), 0xff)
  p[i + 1] = band(rshift(v, 16), 0xff)
  p[i + 2] = band(rshift(v, 8), 0xff)
  p[i + 3] = band(v, 0xff)
end

function M.put_u32(p, i, v)
  if type(v) ~= "number" then v = number("put_u32", v, "4294967295") end
  if not (v >= 0 and v <= 0xffffffff and v % 1 == 0) then bad("put_u32", v, "4294967295") end
  put32(p, i, v)
end

function M.put_u64(p, i, v)
  if type(v) == "number" then
    -- 2^64 itself converts to no uint64_t: the bound is exclusive
    if not (v >= 0 and v < 18446744073709551616 and v % 1 == 0) then
      bad("put_u64", v, "18446744073709551615")
    end
  elseif not (ffi.istype(u64, v) or ffi.istype(i64, v) and v >= 0) then
    bad("put_u64", v, "18446744073709551615")
  end
  v = u64(v)
  put32(p, i, tonumber(v / 4294967296ULL))
  put32(p, i + 4, tonumber(v % 4294967296ULL))
end

return M
