-- scenarios/redis_resp.lua (the README's worked example): every RESP2 reply
-- type framed whole, every cut of it waits for more, garbage is -1.
package.path = package.path .. ";./scenarios/?.lua"
local t = require "tap"
local ffi = require "ffi"
local resp = require "redis_resp"

local function frame(s)
  local buf = ffi.new("uint8_t[?]", #s + 1)
  ffi.copy(buf, s, #s)
  return resp.frame(buf, #s)
end

local replies = {
  ["simple string"] = "+OK\r\n", error = "-ERR unknown command\r\n", integer = ":1042\r\n",
  bulk = "$5\r\nhello\r\n", ["null bulk"] = "$-1\r\n", ["empty bulk"] = "$0\r\n\r\n",
  array = "*3\r\n:1\r\n$3\r\nabc\r\n*2\r\n+a\r\n-b\r\n", ["null array"] = "*-1\r\n",
}
for name, s in pairs(replies) do
  local cuts = true
  for k = 0, #s - 1 do
    if frame(s:sub(1, k)) ~= 0 then cuts = false end
  end
  t.ok(cuts, name .. ": every cut needs more")
  t.is(frame(s), #s, name .. ": whole")
  t.is(frame(s .. "+NEXT\r\n"), #s, name .. ": the next reply is not taken")
end
t.is(frame("?what\r\n"), -1, "an unknown type is garbage")
t.is(frame("$3\r\nabcd\r\n"), -1, "a bulk longer than its length is garbage")
t.is(frame("$x\r\n"), -1, "a length that is no number is garbage")
t.is(frame("+OK\rX"), -1, "CR without LF is garbage")
t.is(frame(("*1\r\n"):rep(20) .. ":1\r\n"), -1, "arrays nested past 8 are refused")
t.done()
