-- A session connection over a string, for testing protocol code without the
-- engine: reads return what the string holds, then "closed" (or the error
-- given). Implements the PROTOCOL.md conn methods the RTSP modules use.
--
-- Time, for code that waits: bytes can also be scheduled to arrive at a
-- time (conn:at), on a clock of its own (M.now_ns, which a test installs as
-- surge.now_ns before requiring the module). A read that needs more waits
-- for the next arrival, at most the conn's timeout: past it the clock has
-- moved on by the timeout and the read returns "timeout", as the engine's
-- would. Nothing scheduled left: the string's end (eof_err) at once.
local ffi = require "ffi"

local M = { clock = 0 }
local Conn = {}
Conn.__index = Conn

-- The fake clock in ns (surge.now_ns's unit).
function M.now_ns() return M.clock end

function M.new(data, eof_err)
  return setmetatable({ buf = data or "", eof_err = eof_err or "closed", sent = {},
                        timeout = 5, queue = {} }, Conn)
end

function Conn:feed(s) self.buf = self.buf .. s end
-- s arrives at t_ns on the clock (in order of t); rx_ns is the kernel's
-- receive time of the read that brings it (default t_ns; false: none).
function Conn:at(t_ns, s, rx_ns)
  if rx_ns == nil then rx_ns = t_ns end
  self.queue[#self.queue + 1] = { t = t_ns, s = s, rx = rx_ns or nil }
end

-- Waits for the next arrival: true, or nil and why not.
function Conn:_more()
  local nxt = self.queue[1]
  if not nxt then return nil, self.eof_err end
  local limit = M.clock + (self.timeout or 5) * 1e9
  if nxt.t > limit then
    M.clock = limit
    return nil, "timeout"
  end
  table.remove(self.queue, 1)
  if nxt.t > M.clock then M.clock = nxt.t end
  self.buf = self.buf .. nxt.s
  self.rx = nxt.rx
  return true
end

function Conn:send(s) self.sent[#self.sent + 1] = s; return true end
function Conn:read(n)
  while #self.buf < n do
    local ok, err = self:_more()
    if not ok then return nil, err end
  end
  local s = self.buf:sub(1, n)
  self.buf = self.buf:sub(n + 1)
  return s
end
function Conn:read_until(delim, max)
  max = max or 65536
  while true do
    local i = self.buf:find(delim, 1, true)
    if i and i + #delim - 1 <= max + #delim then return self:read(i + #delim - 1) end
    if #self.buf > max then return nil, "too long" end
    local ok, err = self:_more()
    if not ok then return nil, err end
  end
end
function Conn:read_some(max)
  while #self.buf == 0 do
    local ok, err = self:_more()
    if not ok then return nil, err end
  end
  return self:read(math.min(max or #self.buf, #self.buf))
end
function Conn:peek(n) return self.buf:sub(1, n) end
function Conn:buffered()
  self._keep = self.buf
  return ffi.cast("const uint8_t *", self._keep), #self.buf
end
function Conn:fill(n)
  while #self.buf < n do
    local ok, err = self:_more()
    if not ok then return nil, err end
  end
  return self:buffered()
end
function Conn:consume(n) self.buf = self.buf:sub(n + 1) end
-- The receive time of the latest arrival (conn:at's rx_ns), nil before one.
function Conn:rx_ns() return self.rx end
function Conn:sleep(s) M.clock = M.clock + (s or 0) * 1e9 end
function Conn:now() return M.clock / 1e9 end
function Conn:set_timeout(s) self.timeout = s end
function Conn:close() self.closed = true end


-- An RTSP "200 OK" with its CSeq, header lines and body (Content-Length
-- made): the canned answers the reader's tests feed it.
function M.rtsp_answer(cseq, headers, body)
  body = body or ""
  local h = { "RTSP/1.0 200 OK", "CSeq: " .. cseq }
  for _, x in ipairs(headers) do h[#h + 1] = x end
  h[#h + 1] = "Content-Length: " .. #body
  return table.concat(h, "\r\n") .. "\r\n\r\n" .. body
end

return M
