-- HTTP/1.1 client (RFC 9112). Requests are built here; responses are framed
-- in C (engine/http_parse.c: status line, Content-Length, chunked with
-- trailers, close-delimited, no body for HEAD/1xx/204/304), which also
-- counts http.status.<code>, http.status.<class>xx, http.body_bytes and
-- http.closed_by_server, and ends a connection gracefully after an answer
-- that says so (Connection: close, HTTP/1.0): the pool reconnects.
--
--   local http = require "surge.proto.http"
--   protocol = http.client { method = "GET", path = "/index.html",
--                            headers = { ["Accept-Encoding"] = "gzip" } }
--
-- A request that is the same every time (one path, a constant body) is
-- built once and sent by the engine without calling Lua.
local base64 = require "surge.base64"
local keys = require "surge.keys"

local M = {}

local fmt = string.format

local OPTS = { method = true, path = true, headers = true, body = true, pipeline = true,
  max_message = true, max_head = true, max_headers = true }

-- RFC 9110 5.6.2: a method and a field name are tokens.
local function token(s) return type(s) == "string" and s:match("^[!#$%%&'*+.^_`|~%w-]+$") end
-- RFC 9110 5.5: a field value is VCHAR, obs-text, SP and HTAB: no control
-- character (CR and LF would split the request; the others are what
-- surge's own response parser calls bad_header). -> offset of the first
-- byte that is not allowed, or nil.
local function bad_in_value(s) return s:find("[%z\1-\8\10-\31\127]") end

-- A value quoted for an error message, control characters as Lua writes
-- them ("/a\1b"), so the message stays on one line.
local function shown(v)
  if type(v) ~= "string" then return tostring(v) end
  return '"' .. v:gsub("[%c\127\\\"]", function(c)
    if c == "\\" or c == '"' then return "\\" .. c end
    return "\\" .. c:byte()
  end) .. '"'
end

-- A byte named for people: "a space", "byte 0x01".
local function byte_name(c)
  if c == " " then return "a space" end
  return fmt("byte 0x%02X", c:byte())
end

-- RFC 9112 3.2: the request-target in origin-form, without the fragment
-- (RFC 9110 4.2.4: never sent). -> the target, or nil and why not.
local function origin_form(p)
  if type(p) ~= "string" then return nil, "must be a string that starts with '/'" end
  p = p:gsub("#.*$", "")
  if p == "" then p = "/" end
  if p:sub(1, 1) ~= "/" and p ~= "*" then return nil, "must start with '/'" end
  -- RFC 3986 2, 3.3, 3.4: a path and a query have no space (it would end
  -- the request-target, RFC 9112 3.2) and no control character.
  local at = p:find("[%c%s\127]")
  if at then
    return nil, fmt("has %s at offset %d: write it percent-encoded (%%20 for a space, RFC 3986 2.1)",
      byte_name(p:sub(at, at)), at)
  end
  return p
end

-- RFC 9110 7.2: Host is the target's authority; the port only when it is
-- not the scheme's default (4.2.1, 4.2.2: 80 for http, 443 for https).
local function host_of(t)
  local h = t.host:find(":", 1, true) and ("[" .. t.host .. "]") or t.host
  if t.port ~= (t.scheme == "https" and 443 or 80) then h = h .. ":" .. t.port end
  return h
end

-- RFC 7617 2: a target's userinfo (http://user:pw@host/) logs in with Basic,
-- as curl does; a user without a password sends "user:". -> the header's
-- value, false when there is no userinfo, or nil and why it cannot be sent
-- (never the password itself: messages end up in shared logs).
local function basic_of(t)
  local user, password = t.user, t.password
  if not user or (user == "" and not password) then return false end
  if user:find(":", 1, true) then
    return nil, "the target's user name has a ':' (%3A), which Basic authentication cannot "
      .. "send (RFC 7617 2: the first ':' ends the user name): send your own Authorization header"
  end
  for _, f in ipairs { { "user name", user }, { "password", password or "" } } do
    if f[2]:find("[%z\1-\31\127]") then
      return nil, fmt("the target's %s has a control character, which Basic authentication "
        .. "cannot send (RFC 7617 2): send your own Authorization header", f[1])
    end
  end
  return "Basic " .. base64.encode(user .. ":" .. (password or ""))
end

local function fail(msg) error("http.client: " .. msg, 3) end

function M.client(opts)
  opts = opts or {}
  if type(opts) ~= "table" then fail("expects a table of options") end
  local bad, hint = keys.unknown(opts, OPTS)
  if bad then fail(fmt("no option '%s' (%s)", bad, hint)) end

  local method = opts.method or "GET"
  if not token(method) then fail("method must be a token like \"GET\" or \"POST\"") end

  -- path: a string, a list (taken in turn), or a function(ctx) -> string.
  local paths, path_fn = nil, nil
  local path = opts.path or "/"
  if type(path) == "function" then
    path_fn = path
  elseif type(path) == "table" then
    if #path == 0 then fail("path list is empty") end
    paths = {}
    for i, p in ipairs(path) do
      local why
      paths[i], why = origin_form(p)
      if not paths[i] then fail(fmt("path[%d] %s %s", i, shown(p), why)) end
    end
  else
    local p, why = origin_form(path)
    if not p then fail(fmt("path %s %s", shown(path), why)) end
    paths = { p }
  end

  local headers = opts.headers or {}
  if type(headers) ~= "table" then fail("headers must be a table { [\"Name\"] = \"value\" }") end
  local names, has_host, has_auth, seen = {}, false, false, {}
  for k, v in pairs(headers) do
    if not token(k) then fail(fmt("header name %q is not a token", tostring(k))) end
    -- RFC 9110 5.1: field names are case-insensitive; two keys that differ
    -- only in case would send the field twice (two Hosts: RFC 9112 3.2
    -- makes that a 400).
    local other = seen[k:lower()]
    if other then
      local a, b = other, k
      if a > b then a, b = b, a end
      fail(fmt("headers %q and %q are the same field (names are case-insensitive, RFC 9110 5.1): "
        .. "keep one", a, b))
    end
    seen[k:lower()] = k
    if type(v) == "number" then v = tostring(v) end
    if type(v) ~= "string" then
      fail(fmt("header %s: the value must be a string or a number (got %s)", k, type(v)))
    end
    local at = bad_in_value(v)
    if at then
      fail(fmt("header %s: the value %s has %s at offset %d (RFC 9110 5.5: visible characters, "
        .. "space and tab only)", k, shown(v), byte_name(v:sub(at, at)), at))
    end
    local lk = k:lower()
    if lk == "content-length" or lk == "transfer-encoding" then
      fail(fmt("header %s is set from body, not by hand", k))
    end
    if lk == "host" then has_host = true end
    if lk == "authorization" then has_auth = true end
    names[#names + 1] = k
  end
  table.sort(names) -- the same bytes on every run

  -- body: a string, { file = "path" } (read once, at load), or a
  -- function(ctx) -> string per request.
  local body, body_fn = opts.body, nil
  if type(body) == "table" then
    if type(body.file) ~= "string" then fail("body as a table must be { file = \"path\" }") end
    local f, err = io.open(body.file, "rb")
    if not f then fail(fmt("body file: %s", err)) end
    -- io.open succeeds on a directory; reading it fails (EISDIR), which
    -- must not pass for an empty body.
    local data, rerr = f:read("*a")
    f:close()
    if not data then
      fail(fmt("body file: %s: cannot read it (%s): give the path of a regular file",
        body.file, tostring(rerr)))
    end
    body = data
  elseif type(body) == "function" then
    body_fn, body = body, nil
  elseif body ~= nil and type(body) ~= "string" then
    fail("body must be a string, { file = \"path\" } or a function(ctx)")
  end

  local pipeline = opts.pipeline or 1
  for _, k in ipairs { "max_message", "max_head", "max_headers" } do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v < 1 or v % 1 ~= 0) then
      fail(k .. " must be a whole number > 0")
    end
  end

  local proto = {
    name = "http",
    shape = "message",
    framing = { kind = "http", head = method == "HEAD", max_head = opts.max_head,
                max_headers = opts.max_headers },
    pipeline = pipeline,
    match = "fifo", -- RFC 9112 9.3.2: answers come in the order of the requests
    -- a whole answer is buffered until it is framed: bodies up to 8 MiB
    max_message = opts.max_message or 8 * 1048576,
  }

  -- The target is known once the scenario is loaded: the loader calls this
  -- with it, and the request bytes are made then.
  proto.prepare = function(target)
    local head = {}
    if not has_host then head[1] = "Host: " .. host_of(target) .. "\r\n" end
    if not has_auth then
      local basic, why = basic_of(target)
      if basic == nil then return nil, "http.client: " .. why end
      if basic then head[#head + 1] = "Authorization: " .. basic .. "\r\n" end
    end
    for _, k in ipairs(names) do head[#head + 1] = k .. ": " .. tostring(headers[k]) .. "\r\n" end
    local fixed = table.concat(head)
    -- RFC 9110 8.6: a body's length; POST and PUT say 0 when they have none.
    local function framed(b)
      if b and #b > 0 then return "Content-Length: " .. #b .. "\r\n\r\n" .. b end
      if method == "POST" or method == "PUT" then return "Content-Length: 0\r\n\r\n" end
      return "\r\n"
    end
    local start = method .. " "
    local mid = " HTTP/1.1\r\n" .. fixed
    local out = {}
    for k, v in pairs(proto) do
      if k ~= "prepare" then out[k] = v end
    end
    if not path_fn and not body_fn and #paths == 1 then
      out.request = start .. paths[1] .. mid .. framed(body)
      return out
    end
    -- Whole requests made once for each listed path; only a function makes
    -- bytes per request.
    local made = {}
    if paths and not body_fn then
      for i, p in ipairs(paths) do made[i] = start .. p .. mid .. framed(body) end
    end
    local n, i = paths and #paths or 0, 0
    out.request = function(ctx)
      local p
      if path_fn then
        p = origin_form(path_fn(ctx))
        if not p then return nil, "bad path" end
      else
        i = i % n + 1
        if made[i] then return made[i] end
        p = paths[i]
      end
      local b = body
      if body_fn then
        b = body_fn(ctx)
        if b ~= nil and type(b) ~= "string" then return nil, "bad body" end
      end
      return start .. p .. mid .. framed(b)
    end
    return out
  end
  return proto
end

M.new = M.client
return M
