-- MD5 (RFC 1321) for RTSP Digest authentication (RFC 2617 / RFC 7616).
-- Pure Lua on LuaJIT's bit library: computed a few times per session, never
-- per packet, so clarity beats speed and no libcrypto is needed.
local bit = require "bit"

local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rol, tobit = bit.rol, bit.tobit
local byte, char, rep, format = string.byte, string.char, string.rep, string.format
local floor, abs, sin = math.floor, math.abs, math.sin

local M = {}

-- RFC 1321 3.4: T[i] = floor(2^32 * abs(sin(i))); S: per-round shifts.
local T = {}
for i = 1, 64 do T[i] = tobit(floor(abs(sin(i)) * 4294967296)) end
local S = { 7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21 }

local function le32(s, i)
  local a, b, c, d = byte(s, i, i + 3)
  return bor(a, b * 256, c * 65536, d * 16777216)
end

local function le32_bytes(x)
  return char(band(x, 255), band(bit.rshift(x, 8), 255), band(bit.rshift(x, 16), 255),
    band(bit.rshift(x, 24), 255))
end

-- md5.sum(s) -> 16 raw bytes; md5.hex(s) -> 32 lowercase hex digits.
function M.sum(s)
  local len = #s
  -- RFC 1321 3.1-3.2: pad with 0x80, zeros to 56 mod 64, then the bit length (LE 64).
  local bits = len * 8
  s = s .. "\128" .. rep("\0", (55 - len) % 64)
    .. le32_bytes(tobit(bits % 4294967296)) .. le32_bytes(tobit(floor(bits / 4294967296)))
  local a0, b0, c0, d0 = tobit(0x67452301), tobit(0xefcdab89), tobit(0x98badcfe), tobit(0x10325476)
  local X = {}
  for off = 1, #s, 64 do
    for j = 0, 15 do X[j] = le32(s, off + j * 4) end
    local a, b, c, d = a0, b0, c0, d0
    for i = 0, 63 do
      local f, g
      if i < 16 then
        f, g = bor(band(b, c), band(bnot(b), d)), i
      elseif i < 32 then
        f, g = bor(band(d, b), band(bnot(d), c)), (5 * i + 1) % 16
      elseif i < 48 then
        f, g = bxor(b, c, d), (3 * i + 5) % 16
      else
        f, g = bxor(c, bor(b, bnot(d))), (7 * i) % 16
      end
      local shift = S[floor(i / 16) * 4 + i % 4 + 1]
      local tmp = d
      d = c
      c = b
      b = tobit(b + rol(tobit(a + f + T[i + 1] + X[g]), shift))
      a = tmp
    end
    a0, b0, c0, d0 = tobit(a0 + a), tobit(b0 + b), tobit(c0 + c), tobit(d0 + d)
  end
  return le32_bytes(a0) .. le32_bytes(b0) .. le32_bytes(c0) .. le32_bytes(d0)
end

function M.hex(s)
  local raw = M.sum(s)
  return (raw:gsub(".", function(c) return format("%02x", byte(c)) end))
end

return M
