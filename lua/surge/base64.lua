-- Base64 (RFC 4648 4), for credentials in headers: RTSP's and HTTP's Basic
-- (RFC 7617). Built once per login or once per scenario, never per request.
local byte, sub = string.byte, string.sub
local floor, concat = math.floor, table.concat

local M = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = {}
    for k = 1, 4 do
      local v = floor(n / 64 ^ (4 - k)) % 64
      q[k] = sub(B64, v + 1, v + 1)
    end
    if not b then q[3] = "=" end
    if not c then q[4] = "=" end
    out[#out + 1] = concat(q)
  end
  return concat(out)
end

return M
