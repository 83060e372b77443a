-- A session connection over a string, for testing protocol code without the
-- engine: reads return what the string holds, then "closed" (or the error
-- given). Implements the PROTOCOL.md conn methods the RTSP modules use.
local ffi = require "ffi"

local M = {}
local Conn = {}
Conn.__index = Conn

function M.new(data, eof_err)
  return setmetatable({ buf = data or "", eof_err = eof_err or "closed", sent = {},
                        t = 0, timeout = 5 }, Conn)
end

function Conn:feed(s) self.buf = self.buf .. s end
function Conn:send(s) self.sent[#self.sent + 1] = s; return true end
function Conn:read(n)
  if #self.buf < n then return nil, self.eof_err end
  local s = self.buf:sub(1, n)
  self.buf = self.buf:sub(n + 1)
  return s
end
function Conn:read_until(delim, max)
  max = max or 65536
  local i = self.buf:find(delim, 1, true)
  if i and i + #delim - 1 <= max + #delim then return self:read(i + #delim - 1) end
  if #self.buf > max then return nil, "too long" end
  return nil, self.eof_err
end
function Conn:read_some(max)
  if #self.buf == 0 then return nil, self.eof_err end
  return self:read(math.min(max or #self.buf, #self.buf))
end
function Conn:peek(n) return self.buf:sub(1, n) end
function Conn:buffered()
  self._keep = self.buf
  return ffi.cast("const uint8_t *", self._keep), #self.buf
end
function Conn:fill(n)
  if #self.buf < n then return nil, self.eof_err end
  return self:buffered()
end
function Conn:consume(n) self.buf = self.buf:sub(n + 1) end
function Conn:sleep(s) self.t = self.t + (s or 0) end
function Conn:now() return self.t end
function Conn:set_timeout(s) self.timeout = s end
function Conn:close() self.closed = true end

return M
