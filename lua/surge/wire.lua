-- Big-endian (network order) integers on FFI byte pointers, so protocol
-- modules stop shifting bytes by hand. ptr is a uint8_t* (const or not),
-- i a 0-based offset; nothing is bounds-checked: check i + width <= len
-- first, as a framing function does. u64 returns a uint64_t cdata (every
-- value is exact); the rest return Lua numbers.
local ffi = require "ffi"
local bit = require "bit"

local band, bor, rshift = bit.band, bit.bor, bit.rshift
local u64 = ffi.typeof("uint64_t")

local M = {}

function M.u8(p, i) return p[i] end

function M.u16(p, i) return p[i] * 256 + p[i + 1] end

function M.u32(p, i)
  return ((p[i] * 256 + p[i + 1]) * 256 + p[i + 2]) * 256 + p[i + 3]
end

function M.u64(p, i)
  return u64(M.u32(p, i)) * 4294967296ULL + u64(M.u32(p, i + 4))
end

function M.put_u8(p, i, v) p[i] = band(v, 0xff) end

function M.put_u16(p, i, v)
  p[i] = band(rshift(v, 8), 0xff)
  p[i + 1] = band(v, 0xff)
end

function M.put_u32(p, i, v)
  -- bit ops work on 32-bit signed values: 0xffffffff is -1, same bytes
  v = bor(v, 0)
  p[i] = band(rshift(v, 24), 0xff)
  p[i + 1] = band(rshift(v, 16), 0xff)
  p[i + 2] = band(rshift(v, 8), 0xff)
  p[i + 3] = band(v, 0xff)
end

function M.put_u64(p, i, v)
  v = u64(v)
  M.put_u32(p, i, tonumber(v / 4294967296ULL))
  M.put_u32(p, i + 4, tonumber(v % 4294967296ULL))
end

return M
