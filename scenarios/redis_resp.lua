-- A Redis client in one page: the worked example of "Writing a protocol
-- module" (README). RESP2 (https://redis.io/docs/reference/protocol-spec/):
-- a request is an array of bulk strings; a reply is one value — simple
-- string (+), error (-), integer (:), bulk string ($), or array (*) of
-- values. Redis answers in order, so matching is fifo; pipelining is safe.
--
--   local resp = require "redis_resp"       -- found beside the scenario file
--   protocol = resp.client { commands = { { "SET", "key:{n}", "v" }, { "GET", "key:{n}" } },
--                            keyspace = 1000, pipeline = 4 }
local surge = require "surge"

local M = {}

local CR, LF = 13, 10

-- The reply at ptr[i..len): the index just past it, 0 when more bytes are
-- needed, -1 when it is not RESP. depth bounds nested arrays.
local function line_end(ptr, i, len)
  for j = i, len - 2 do
    if ptr[j] == CR then
      if ptr[j + 1] ~= LF then return -1 end
      return j
    end
  end
  return nil
end

local function int_at(ptr, i, e)
  local n, neg = 0, false
  if ptr[i] == 45 then neg, i = true, i + 1 end -- '-'
  if i >= e then return nil end
  for j = i, e - 1 do
    local d = ptr[j] - 48
    if d < 0 or d > 9 then return nil end
    n = n * 10 + d
  end
  return neg and -n or n
end

local function value(ptr, i, len, depth)
  if i >= len then return 0 end
  local t = ptr[i]
  local e = line_end(ptr, i + 1, len)
  if e == -1 then return -1 end
  if not e then return len - i > 65536 and -1 or 0 end
  if t == 43 or t == 45 or t == 58 then -- + - :
    return e + 2
  end
  local n = int_at(ptr, i + 1, e)
  if not n or n < -1 then return -1 end
  if t == 36 then -- $: bulk string of n bytes, then CRLF; $-1 is null
    if n == -1 then return e + 2 end
    local stop = e + 2 + n + 2
    if stop > len then return 0 end
    if ptr[stop - 2] ~= CR or ptr[stop - 1] ~= LF then return -1 end
    return stop
  elseif t == 42 then -- *: n values; *-1 is null
    if depth > 8 then return -1 end
    local j = e + 2
    for _ = 1, n do
      j = value(ptr, j, len, depth + 1)
      if j <= 0 then return j end
    end
    return j
  end
  return -1
end

-- framing = lua: the first reply's length.
function M.frame(ptr, len) return value(ptr, 0, len, 0) end

local function encode(args)
  local out = { "*" .. #args .. "\r\n" }
  for _, a in ipairs(args) do
    out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return table.concat(out)
end

function M.client(opts)
  local commands = opts.commands or { { "PING" } }
  local keyspace = opts.keyspace or 1000
  local constant = {}
  for i, c in ipairs(commands) do
    local keyed = false
    for _, a in ipairs(c) do keyed = keyed or a:find("{n}", 1, true) ~= nil end
    constant[i] = not keyed and encode(c) or false
  end
  local i, n = 0, 0
  return {
    name = "redis",
    framing = { kind = "lua", fn = M.frame },
    pipeline = opts.pipeline or 1,
    match = "fifo",
    request = function(ctx)
      i = i % #commands + 1
      if i == 1 then n = n % keyspace + 1 end -- one key per round of commands
      if constant[i] then return constant[i] end
      local args = {}
      for k, a in ipairs(commands[i]) do args[k] = (a:gsub("{n}", n)) end
      return encode(args)
    end,
    response = function(ctx, ptr, len)
      -- An error reply is an answer, but a wrong one: a protocol error
      -- counted as protocol.redis_error, no latency sample.
      if ptr[0] == 45 then return nil, "redis_error" end
      if ptr[0] == 36 and ptr[1] == 45 then surge.count("redis.null") end
    end,
  }
end

return M
