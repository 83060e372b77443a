-- Target URLs: "tcp://host:port", "host:port", "[::1]:53", "rtsp://user:pw@host/path".
-- "tls://host:853", "rtsps://cam/live", "https://host".
-- Returns a table { scheme, host, port, path, user, password, url, tls } or
-- nil, err; tls is true when the scheme needs TLS (never sent as plaintext).
-- user and password are percent-decoded; password is nil when the userinfo
-- has no ':'.
local M = {}

-- RFC 3986 2.1: "%40" is "@". A '%' not followed by two hex digits is left
-- as written, as curl leaves it.
local function unescape(s)
  return s and (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local default_ports = { rtsp = 554, rtsps = 322, dns = 53, http = 80, https = 443 }

-- Schemes surge speaks: plaintext TCP, udp:// for protocols whose transport
-- is "udp" (scenario.lua checks that the two agree), or TCP + TLS. One that
-- needs what surge does not speak is refused rather than run as plaintext:
-- a user who asked for TLS must never measure a plaintext server by accident.
local PLAIN = { tcp = true, rtsp = true, dns = true, http = true, udp = true }
local TLS = { tls = true, rtsps = true, https = true }
local NOT_YET = {}

-- A URL as a message quotes it: without the password of its userinfo (or a
-- user given alone, as a token is), which would end up in shared CI logs.
-- The userinfo ends at the authority's last '@' (a path may hold others).
-- With none there, an authority that is no host[:port] ("u:s3cret") is a
-- password with an unescaped '/', '?' or '#', which ended the authority
-- early for a parser (RFC 3986 3.2), not for whoever reads the log: then
-- the URL's last '@' ends it, if a ':' comes before.
function M.shown(s)
  local head, rest = s:match("^(%a[%w+.-]*://)(.*)$")
  if not head then head, rest = "", s end
  local authority = rest:match("^[^/?#]*")
  local at = authority:find("@[^@]*$")
  if at then
    local user = rest:sub(1, at - 1):match("^([^:]*):")
    return head .. (user and (user .. "@") or "") .. rest:sub(at + 1)
  end
  if authority:sub(1, 1) == "[" or authority:match("^[^:]*$") or authority:match("^[^:]*:%d*$") then
    return s
  end
  at = rest:find("@[^@]*$")
  local user = at and rest:sub(1, at - 1):match("^([^:]*):")
  if not user then return s end
  return head .. user .. rest:sub(at)
end

function M.parse(s)
  if type(s) ~= "string" or s == "" then
    return nil, "expected a target like tcp://127.0.0.1:7000"
  end
  local scheme, rest = s:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then scheme, rest = "tcp", s end
  scheme = scheme:lower()
  if scheme == "dot" then
    return nil, "'dot://' is not a scheme surge knows: DNS over TLS is tls://host:853"
  end
  if NOT_YET[scheme] then
    return nil, "'" .. scheme .. "://' needs " .. NOT_YET[scheme] .. ", which surge does not speak "
      .. "yet; it is never sent as plaintext (tcp://host:port is plain TCP)"
  end
  if not PLAIN[scheme] and not TLS[scheme] then
    return nil, "unknown scheme '" .. scheme .. "://' (known: tcp://, udp://, tls://, rtsp://, "
      .. "rtsps://, dns://, http://, https://, or host:port for TCP)"
  end
  local authority, path = rest:match("^([^/?#]*)(.*)$")
  local user, password
  local said = M.shown(s)
  -- A piece of a URL whose password the parser did not see (an unescaped
  -- '/' or '#' in it) may be the password: quoted only when nothing was cut.
  local function quoted(x) return said == s and ("'" .. x .. "' ") or "" end
  local at = authority:find("@[^@]*$")
  if at then
    local cred = authority:sub(1, at - 1)
    authority = authority:sub(at + 1)
    user, password = cred:match("^([^:]*):(.*)$")
    if not user then user = cred end
    user, password = unescape(user), unescape(password)
  end
  -- host, then ":port" or nothing; the port is checked apart from the host
  -- so a bad port (":abc", ":-1", ":7000x") is never called "no host".
  local host, tail
  if authority:sub(1, 1) == "[" then
    host, tail = authority:match("^%[([%x:.]+)%](.*)$")
    if not host then return nil, "bad IPv6 literal in '" .. said .. "' (expected [addr]:port, e.g. tcp://[::1]:7000)" end
  else
    host, tail = authority:match("^([^:]*)(.*)$")
    if select(2, authority:gsub(":", "")) >= 2 then
      -- host:port:port is two ports; an IPv6 address has hex groups, not
      -- only digits after a dotted or named host.
      if authority:match("^[^:]+:%d+:%d*$") and not authority:match("^%x+:%x+:%x*$") then
        return nil, "two ports in '" .. said .. "' (expected one, e.g. " .. scheme .. "://"
          .. authority:match("^([^:]+:%d+)") .. ")"
      end
      return nil, "an IPv6 address needs brackets in '" .. said .. "' (e.g. " .. scheme .. "://[::1]:7000)"
    end
    if host == "" then return nil, "no host in '" .. said .. "' (expected e.g. " .. scheme .. "://127.0.0.1:7000)" end
  end
  -- The host as written in a URL: an IPv6 address in brackets.
  local shown = host:find(":", 1, true) and ("[" .. host .. "]") or host
  local digits = tail:match("^:(%d*)$")
  if tail ~= "" and not digits then
    return nil, "bad port " .. quoted(tail:gsub("^:", "")) .. "in '" .. said .. "' (expected a number from 1 to 65535, "
      .. "e.g. " .. scheme .. "://" .. shown .. ":7000)"
  end
  local port = tonumber(digits) or default_ports[scheme]
  if not port and scheme == "tls" then
    return nil, "no port in '" .. said .. "' (tls:// is TLS over TCP to any port, e.g. "
      .. "tls://" .. shown .. ":853 for DNS over TLS)"
  end
  if not port then
    return nil, "no port in '" .. said .. "' (expected e.g. " .. scheme .. "://" .. shown .. ":7000)"
  end
  if port < 1 or port > 65535 then
    return nil, "bad port " .. quoted(digits) .. "in '" .. said .. "' (expected a number from 1 to 65535)"
  end
  -- RFC 3986 6.2.3, RFC 9112 3.2.1: an empty path is "/", also before a
  -- query or a fragment ("http://h?x=1" asks for "/?x=1", as curl does).
  if path == "" or path:find("^[?#]") then path = "/" .. path end
  return { scheme = scheme, host = host, port = port, path = path,
           user = user, password = password, url = s, explicit = rest ~= s,
           transport = scheme == "udp" and "udp" or "tcp", tls = TLS[scheme] or false }
end

return M
