-- The worker side of the engine's Lua half: C calls the functions bind()
-- returns (request, response, frame, session_start, session_resume) with
-- plain integers; protocol code gets FFI pointers and a conn object. The
-- declarations and constants are include/surge/ffi.h's own, preprocessed by
-- the build and preloaded by the engine as "surge.cdef".
local ffi = require "ffi"
local surge = require "surge"
local raised_what = require("surge.raised").what

ffi.cdef(require "surge.cdef")

local C = ffi.C
local u8p = ffi.typeof("uint8_t *")
local cu8p = ffi.typeof("const uint8_t *")
local co_create, co_resume, co_status, co_yield = coroutine.create, coroutine.resume,
  coroutine.status, coroutine.yield

local WAIT_READ, WAIT_SLEEP, WAIT_WRITE = C.SURGE_WAIT_READ, C.SURGE_WAIT_SLEEP, C.SURGE_WAIT_WRITE
local WAKE_TIMER, WAKE_CLOSED = C.SURGE_WAKE_TIMER, C.SURGE_WAKE_CLOSED
local CLOSED_EOF, CLOSED_LOCAL = C.SURGE_CLOSED_EOF, C.SURGE_CLOSED_LOCAL
-- What a session's conn method returns for a connection closed by a fault:
-- error class + 1, as surge_conn_state returns them.
local close_names = {
  [C.SURGE_ERR_CONNECT_REFUSED + 1] = "refused", [C.SURGE_ERR_CONNECT_TIMEOUT + 1] = "timeout",
  [C.SURGE_ERR_ADDR_NOT_AVAILABLE + 1] = "address", [C.SURGE_ERR_RESET + 1] = "reset",
  [C.SURGE_ERR_UNEXPECTED_CLOSE + 1] = "closed", [C.SURGE_ERR_REQUEST_TIMEOUT + 1] = "timeout",
  [C.SURGE_ERR_PROTOCOL + 1] = "protocol", [C.SURGE_ERR_SCRIPT + 1] = "script",
  [C.SURGE_ERR_OTHER + 1] = "error", [C.SURGE_ERR_UDP_REFUSED + 1] = "refused",
  [C.SURGE_ERR_TLS_HANDSHAKE + 1] = "tls handshake", [C.SURGE_ERR_TLS_VERIFY + 1] = "tls verify",
  [C.SURGE_ERR_UNREACHABLE + 1] = "unreachable",
}

local M = {}

-- ctx.state: a table per connection that the engine empties when the
-- connection (re)opens, so a module keeps what it learned about its
-- connection there instead of in its own table keyed by conn_id. Looked up
-- through the ctx struct's metatable: only a use of ctx.state costs.
local states = {}
ffi.metatype("struct surge_ctx", { __index = function(c, k)
  if k ~= "state" then return nil end
  local id = c.conn_id
  local s = states[id]
  if not s then
    s = {}
    states[id] = s
  end
  return s
end })

-- Where a function is written, for errors about what it returned.
local function where(fn)
  local i = debug.getinfo(fn, "S")
  return i and (i.short_src .. ":" .. (i.linedefined or "?")) or "?"
end

-- Where an error was raised: the first line with a position from level up,
-- in thread co, or when co is nil in the running thread, where level 1 is
-- raised_at itself.
local function raised_at(co, level)
  for l = level, level + 40 do
    local i
    if co then i = debug.getinfo(co, l, "Sl") else i = debug.getinfo(l, "Sl") end
    if not i then return nil end
    if i.currentline and i.currentline > 0 then return i.short_src .. ":" .. i.currentline end
  end
end

-- The message for error(e) with a non-string e: the line that raised it,
-- the callback (name, defined where) and the value, as the scenario loader
-- says it for load-time errors.
local function raised_msg(at, name, defined, e)
  return (at or defined or "?") .. ": protocol " .. name .. (defined and (" (defined at "
    .. defined .. ")") or "") .. " " .. raised_what(e)
end

-- A session's view of its connection (PROTOCOL.md). Methods yield inside.
local Conn = {}
Conn.__index = Conn

local function closed_err(self)
  local st = C.surge_conn_state(self._w, self.id)
  if st == 0 then return nil end
  if st == CLOSED_EOF then return "closed" end
  -- surge itself ended it (run over, pool shrinking): not the peer's fault
  if st == CLOSED_LOCAL then return "stopped" end
  return close_names[st] or "closed"
end

local function wait(self, what, timeout)
  C.surge_conn_wait(self._w, self.id, what, timeout or 0)
  return co_yield()
end

function Conn:send(s)
  local rc = C.surge_conn_send(self._w, self.id, s, #s)
  if rc < 0 then return nil, closed_err(self) or "closed" end
  while rc == 1 do
    local why = wait(self, WAIT_WRITE, self.timeout)
    if why == WAKE_TIMER then return nil, "timeout" end
    if why == WAKE_CLOSED then return nil, closed_err(self) or "closed" end
    rc = 0
  end
  return true
end

-- Waits until at least n bytes are buffered (or the peer is gone).
local function fill(self, n)
  local pp = self._pp
  while true do
    local avail = C.surge_conn_peek(self._w, self.id, pp)
    if avail >= n then return avail end
    local err = closed_err(self)
    if err then return nil, err end
    local why = wait(self, WAIT_READ, self.timeout)
    if why == WAKE_TIMER then return nil, "timeout" end
  end
end

function Conn:read(n)
  local avail, err = fill(self, n)
  if not avail then return nil, err end
  local s = ffi.string(self._pp[0], n)
  C.surge_conn_consume(self._w, self.id, n)
  return s
end

function Conn:read_some(max)
  local avail, err = fill(self, 1)
  if not avail then return nil, err end
  local n = max and math.min(max, avail) or avail
  local s = ffi.string(self._pp[0], n)
  C.surge_conn_consume(self._w, self.id, n)
  return s
end

function Conn:peek(n)
  local avail = C.surge_conn_peek(self._w, self.id, self._pp)
  if avail <= 0 then return "" end
  return ffi.string(self._pp[0], math.min(n, avail))
end

function Conn:read_until(delim, max)
  max = max or 65536
  local searched = 0
  while true do
    local avail = C.surge_conn_peek(self._w, self.id, self._pp)
    if avail > searched then
      local buf = ffi.string(self._pp[0], math.min(avail, max + #delim))
      local i = buf:find(delim, math.max(1, searched - #delim + 1), true)
      if i then
        local n = i + #delim - 1
        C.surge_conn_consume(self._w, self.id, n)
        return buf:sub(1, n)
      end
      if avail > max then return nil, "too long" end
      searched = avail
    end
    local err = closed_err(self)
    if err then return nil, err end
    local why = wait(self, WAIT_READ, self.timeout)
    if why == WAKE_TIMER then return nil, "timeout" end
  end
end

-- Zero-copy reads for protocols that parse in place (RTSP's interleaved
-- RTP): fill(n) waits until at least n bytes are buffered and returns a
-- const uint8_t* to them and the count buffered; buffered() returns the same
-- without waiting (count 0 when empty); consume(n) drops n parsed bytes.
-- The pointer is valid until the next call on conn.
function Conn:fill(n)
  local avail, err = fill(self, n)
  if not avail then return nil, err end
  return self._pp[0], avail
end

function Conn:buffered()
  local avail = C.surge_conn_peek(self._w, self.id, self._pp)
  if avail <= 0 then return nil, 0 end
  return self._pp[0], avail
end

function Conn:consume(n) C.surge_conn_consume(self._w, self.id, n) end

-- When the kernel received what this connection read last (ns, surge.now_ns's
-- clock), or nil when unknown: what is buffered arrived then or before.
function Conn:rx_ns()
  local t = C.surge_conn_rx_ns(self._w, self.id)
  if t > 0 then return t end
end

function Conn:sleep(seconds)
  if seconds and seconds > 0 then wait(self, WAIT_SLEEP, seconds) end
end

function Conn:now() return tonumber(C.surge_now_ns()) / 1e9 end
function Conn:set_timeout(seconds) self.timeout = seconds end
function Conn:close() C.surge_conn_close(self._w, self.id) end

-- wptr: the worker; msgptr: the engine's message buffer, where C copies
-- every answer small enough (nil as the answer's pointer says so), so one
-- cdata made here serves them all and an answer allocates nothing.
function M.bind(wptr, cfg, msgptr)
  local W = ffi.cast("struct worker *", wptr)
  local msg = ffi.cast(cu8p, msgptr)
  surge._bind(W, C)
  local proto = cfg.protocol
  local ctxs = C.surge_ctxs(W)
  local reqbuf = C.surge_reqbuf(W)
  local ctx_of = setmetatable({}, { __index = function(t, id)
    local c = ctxs + id
    t[id] = c
    return c
  end })
  local fns = {}
  -- callback function -> its name, for the errors they raise (fns.raised)
  local names = {}
  -- a chooser among the targets' callbacks (scenario.lua) -> the first's
  local origin = proto.callback_origin or {}
  for _, k in ipairs { "request", "response", "expired", "connect", "close" } do
    if type(proto[k]) == "function" then names[proto[k]] = k .. "()" end
  end
  if proto.framing and type(proto.framing.fn) == "function" then
    names[proto.framing.fn] = "framing.fn()"
  end
  -- The C message handler's hook for an error value that is not a string
  -- (error({ code = 1 }), error()): Lua gives those no position and prints a
  -- table as its address. Called while the raising frames are still on
  -- the stack: the outermost callback frame says which callback raised
  -- (tail calls from the trampolines leave only the callback's frame).
  fns.raised = function(e)
    local at, fn = raised_at(nil, 3), nil -- 2 is this function
    for l = 2, 200 do
      local i = debug.getinfo(l, "f")
      if not i then break end
      if names[i.func] then fn = i.func end
    end
    if not fn then return raised_msg(at, "callback", nil, e) end
    return raised_msg(at, names[fn], where(origin[fn] or fn), e)
  end

  local request = proto.request
  if type(request) == "function" then
    local cap = C.SURGE_REQBUF_SIZE
    local at = where(origin[request] or request)
    fns.request_at = at -- C names it in a bad length's error
    fns.request = function(id)
      local r, key = request(ctx_of[id], reqbuf, cap)
      if r == nil and key == nil then
        error(at .. ": protocol request() returned nothing: return the request (a string, or "
          .. "the length written into buf) and its key, or nil and the reason it was skipped", 0)
      end
      return r, key
    end
  end
  local response = proto.response
  if response then
    fns.response_at = where(origin[response] or response) -- C names it in a bad key's error
    fns.response = function(id, ptr, len)
      return response(ctx_of[id], ptr and ffi.cast(cu8p, ptr) or msg, len)
    end
  end
  local expired = proto.expired
  if expired then
    fns.expired = function(id, key) expired(ctx_of[id], key) end
  end
  if proto.shape ~= "session" then
    local connect, close = proto.connect, proto.close
    fns.conn_event = function(id, what, why)
      local ctx = ctx_of[id]
      if what == 1 then
        states[id] = nil
        if connect then connect(ctx) end
      elseif close then
        close(ctx, why)
      end
    end
  end
  if proto.framing and proto.framing.kind == "lua" then
    local fn = proto.framing.fn
    fns.frame = function(ptr, len) return fn(ffi.cast(cu8p, ptr), len) end
  end

  if proto.session then
    local session = proto.session
    local cos, conns = {}, {}
    -- What every connection of the worker shares lives in Conn, which a
    -- conn table falls back to: a table per connection is then only its id
    -- and its own timeout once set (100k RTSP readers hold 100k of them).
    -- One pointer cell serves every peek: each is read before the next yield.
    Conn._w, Conn._pp = W, ffi.new("const uint8_t *[1]")
    Conn.target, Conn.timeout = cfg.targets[1], cfg.timeout

    local function finish(id, co, ok, err)
      if not ok then
        cos[id] = nil
        if type(err) ~= "string" then
          err = raised_msg(raised_at(co, 0), "session()", where(session), err)
        end
        return -1, debug.traceback(co, err)
      end
      if co_status(co) == "dead" then
        cos[id] = nil
        local failed = surge._failed[co]
        surge._failed[co] = nil
        return failed and 2 or 1
      end
      return 0
    end

    fns.session_start = function(id)
      local conn = conns[id]
      if not conn then
        conn = setmetatable({ id = id }, Conn)
        conns[id] = conn
      end
      conn.timeout = nil -- the scenario's, until set_timeout
      -- The target this connection dials (the first's stands in Conn).
      local ti = ctxs[id].target
      conn.target = ti > 1 and cfg.targets[ti] or nil
      local co = co_create(session)
      cos[id] = co
      return finish(id, co, co_resume(co, conn))
    end
    -- C found the session parked with no conn wait armed: a yield that
    -- was not conn's. Dropped, and named where it yielded.
    fns.session_stray = function(id)
      local co = cos[id]
      cos[id] = nil
      if not co then return -1, "session: parked with no wait armed" end
      local at
      for level = 0, 20 do
        local i = debug.getinfo(co, level, "Sl")
        if not i then break end
        if i.currentline and i.currentline > 0 then
          at = i.short_src .. ":" .. i.currentline
          break
        end
      end
      return -1, debug.traceback(co, (at or "?") .. ": session yielded outside a conn method "
        .. "(a bare coroutine.yield()?): nothing would resume it; wait through conn "
        .. "(read, send, sleep)")
    end
    fns.session_resume = function(id, reason)
      local co = cos[id]
      if not co then return 1 end
      return finish(id, co, co_resume(co, reason))
    end
  end
  return fns
end

return M
