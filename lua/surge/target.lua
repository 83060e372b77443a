-- Target URLs: "tcp://host:port", "host:port", "[::1]:53", "rtsp://user:pw@host/path".
-- "tls://host:853", "rtsps://cam/live", "https://host".
-- Returns a table { scheme, host, port, path, user, password, url, tls } or
-- nil, err; tls is true when the scheme needs TLS (never sent as plaintext).
local M = {}

local default_ports = { rtsp = 554, rtsps = 322, dns = 53, http = 80, https = 443 }

-- Schemes surge speaks: plaintext TCP, udp:// for protocols whose transport
-- is "udp" (scenario.lua checks that the two agree), or TCP + TLS. One that
-- needs what surge does not speak is refused rather than run as plaintext:
-- a user who asked for TLS must never measure a plaintext server by accident.
local PLAIN = { tcp = true, rtsp = true, dns = true, http = true, udp = true }
local TLS = { tls = true, rtsps = true, https = true }
local NOT_YET = {}

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
  local at = authority:find("@[^@]*$")
  if at then
    local cred = authority:sub(1, at - 1)
    authority = authority:sub(at + 1)
    user, password = cred:match("^([^:]*):(.*)$")
    if not user then user = cred end
  end
  local host, port
  if authority:sub(1, 1) == "[" then
    host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
    if not host then return nil, "bad IPv6 literal in '" .. s .. "' (expected [addr]:port)" end
  else
    host, port = authority:match("^([^:]+):?(%d*)$")
    if not host then return nil, "no host in '" .. s .. "'" end
  end
  port = tonumber(port) or default_ports[scheme]
  if not port and scheme == "tls" then
    return nil, "no port in '" .. s .. "' (tls:// is TLS over TCP to any port, e.g. "
      .. "tls://" .. host .. ":853 for DNS over TLS)"
  end
  if not port then
    return nil, "no port in '" .. s .. "' (expected e.g. " .. scheme .. "://" .. host .. ":7000)"
  end
  if port < 1 or port > 65535 then return nil, "port out of range in '" .. s .. "'" end
  return { scheme = scheme, host = host, port = port, path = path ~= "" and path or "/",
           user = user, password = password, url = s, explicit = rest ~= s,
           transport = scheme == "udp" and "udp" or "tcp", tls = TLS[scheme] or false }
end

return M
