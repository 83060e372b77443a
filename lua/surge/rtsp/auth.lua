-- RTSP authentication (RFC 2326 uses HTTP's): Basic (RFC 7617) and Digest
-- with MD5 (RFC 2617, RFC 7616). Pure functions: the reader parses a 401's
-- WWW-Authenticate, then asks for an Authorization value for each request.
local base64 = require "surge.base64"
local md5 = require "surge.rtsp.md5"

local sub, format, lower, gsub, find, match =
  string.sub, string.format, string.lower, string.gsub,
  string.find, string.match
local floor, concat = math.floor, table.concat

local M = {}

M.base64 = base64.encode -- kept for modules that used it here

-- RFC 7617 2: "Basic " base64(user ":" password).
function M.basic(user, password)
  return "Basic " .. M.base64(user .. ":" .. (password or ""))
end

-- Parses one WWW-Authenticate value (RFC 7235 4.1; RFC 2617 3.2.1):
-- scheme, then auth-params name=token or name="quoted string". Returns
-- { scheme = "digest", realm = ..., nonce = ..., ... } or nil, err.
-- Several challenges in one header are not split (servers send one header
-- per scheme; the reader passes each).
function M.parse_challenge(s)
  if type(s) ~= "string" then return nil, "no challenge" end
  local scheme, rest = match(s, "^%s*([%w!#$%%&'*+.^_`|~-]+)%s*(.*)$")
  if not scheme then return nil, "bad challenge" end
  local c = { scheme = lower(scheme) }
  local i, n = 1, #rest
  while i <= n do
    local s1, e1, name = find(rest, "^[%s,]*([%w!#$%%&'*+.^_`|~-]+)%s*=%s*", i)
    if not s1 then
      if match(sub(rest, i), "^[%s,]*$") then break end
      return nil, "bad challenge parameter"
    end
    i = e1 + 1
    local value
    if sub(rest, i, i) == '"' then
      -- quoted-string with backslash escapes (RFC 7230 3.2.6)
      local buf, j = {}, i + 1
      while true do
        local ch = sub(rest, j, j)
        if ch == "" then return nil, "unterminated quoted string" end
        if ch == '"' then break end
        if ch == "\\" then
          j = j + 1
          ch = sub(rest, j, j)
          if ch == "" then return nil, "unterminated quoted string" end
        end
        buf[#buf + 1] = ch
        j = j + 1
      end
      value, i = concat(buf), j + 1
    else
      local s2, e2, tok = find(rest, "^([^%s,]*)", i)
      value, i = tok, e2 + 1
    end
    c[lower(name)] = value
  end
  return c
end

-- Picks the strongest challenge we can answer from a list of
-- WWW-Authenticate values: Digest MD5 over Basic (RFC 7616 3.7 asks clients
-- to prefer the strongest). Returns the parsed challenge or nil, err.
function M.choose(values)
  local best
  for _, v in ipairs(values or {}) do
    local c = M.parse_challenge(v)
    if c and c.scheme == "digest" then
      local alg = lower(c.algorithm or "MD5")
      if (alg == "md5" or alg == "md5-sess") and c.nonce and c.realm then
        return c
      end
    elseif c and c.scheme == "basic" then
      best = best or c
    end
  end
  if best then return best end
  return nil, "no supported authentication scheme (Basic, Digest MD5)"
end

local function quote(s)
  return '"' .. gsub(s, '(["\\])', "\\%1") .. '"'
end

-- state: what a Digest client remembers between requests (the nonce count).
-- authorization(challenge, user, password, method, uri, state [, cnonce])
-- -> the Authorization header value. RFC 2617 3.2.2:
--   HA1 = MD5(user:realm:password)  (MD5-sess: MD5(HA1:nonce:cnonce))
--   HA2 = MD5(method:uri)
--   response = MD5(HA1:nonce:HA2), or with qop=auth
--              MD5(HA1:nonce:nc:cnonce:qop:HA2)
function M.authorization(c, user, password, method, uri, state, cnonce)
  password = password or ""
  if c.scheme == "basic" then return M.basic(user, password) end
  state = state or {}
  local alg = c.algorithm
  local ha1 = md5.hex(user .. ":" .. c.realm .. ":" .. password)
  cnonce = cnonce or format("%08x", floor(math.random() * 4294967296))
  if alg and lower(alg) == "md5-sess" then ha1 = md5.hex(ha1 .. ":" .. c.nonce .. ":" .. cnonce) end
  local ha2 = md5.hex(method .. ":" .. uri)
  local qop
  if c.qop then
    -- qop is a list; only "auth" is supported (auth-int would hash the body).
    for q in c.qop:gmatch("[^,%s]+") do if q == "auth" then qop = "auth" end end
  end
  local parts = {
    "username=" .. quote(user), "realm=" .. quote(c.realm), "nonce=" .. quote(c.nonce),
    "uri=" .. quote(uri),
  }
  local response
  if qop then
    state.nc = (state.nc or 0) + 1
    local nc = format("%08x", state.nc)
    response = md5.hex(ha1 .. ":" .. c.nonce .. ":" .. nc .. ":" .. cnonce .. ":" .. qop .. ":" .. ha2)
    parts[#parts + 1] = "qop=" .. qop
    parts[#parts + 1] = "nc=" .. nc
    parts[#parts + 1] = "cnonce=" .. quote(cnonce)
  else
    response = md5.hex(ha1 .. ":" .. c.nonce .. ":" .. ha2)
  end
  parts[#parts + 1] = "response=" .. quote(response)
  if c.opaque then parts[#parts + 1] = "opaque=" .. quote(c.opaque) end
  if alg then parts[#parts + 1] = "algorithm=" .. alg end
  return "Digest " .. concat(parts, ", ")
end

return M
