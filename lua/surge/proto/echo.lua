-- Echo: the server sends back every byte it receives (RFC 862 over TCP).
-- Each request is `size` bytes; the answer is the same bytes, so framing is by
-- fixed size and answers come in order (fifo). The request is a constant:
-- the engine sends it without calling Lua, the fastest path surge has.
local keys = require "surge.keys"

local M = {}

local OPTS = { size = true, payload = true, pipeline = true, verify = true }

function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("echo: expects a table of options like { size = 64 }", 2) end
  -- A misspelt option would silently run with the default (sise = 16: 64 bytes).
  local bad, hint = keys.unknown(opts, OPTS)
  if bad then error("echo: no option '" .. bad .. "' (" .. hint .. ")", 2) end
  local size = opts.size or 64
  if type(size) ~= "number" or size < 1 or size > 1048576 or size % 1 ~= 0 then
    error("echo: size must be a whole number of bytes from 1 to 1048576", 2)
  end
  local payload = opts.payload
  if payload == nil then
    -- Printable and newline-terminated, so it also works with line-based peers.
    local line = ("surge echo "):rep(math.ceil(size / 11)):sub(1, size - 1) .. "\n"
    payload = line
  end
  if #payload ~= size then error("echo: payload must be exactly size bytes", 2) end
  return {
    name = "echo",
    shape = "message",
    framing = { kind = "fixed", size = size },
    pipeline = opts.pipeline or 1,
    match = "fifo",
    request = payload,
    response = opts.verify and function(ctx, ptr, len)
      -- Optional: check the bytes that came back (costs a Lua call per answer).
      local ffi = require "ffi"
      if ffi.string(ptr, len) ~= payload then return nil, "echo mismatch" end
      return nil
    end or nil,
  }
end

M.tcp = M.new
return M
