-- Target URLs: "tcp://host:port", "host:port", "[::1]:53", "rtsp://user:pw@host/path".
-- Returns a table { scheme, host, port, path, user, password, url } or nil, err.
local M = {}

local default_ports = { rtsp = 554, dns = 53, http = 80 }

-- Schemes surge speaks today: plaintext TCP, and udp:// for protocols whose
-- transport is "udp" (scenario.lua checks that the two agree). One that needs
-- TLS is refused rather than run as plaintext TCP: a user who asked for TLS
-- must never measure a plaintext server by accident.
local PLAIN = { tcp = true, rtsp = true, dns = true, http = true, udp = true }
local NOT_YET = { tls = "TLS", https = "TLS", rtsps = "TLS", dot = "TLS" }

function M.parse(s)
  if type(s) ~= "string" or s == "" then
    return nil, "expected a target like tcp://127.0.0.1:7000"
  end
  local scheme, rest = s:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then scheme, rest = "tcp", s end
  scheme = scheme:lower()
  if NOT_YET[scheme] then
    return nil, "'" .. scheme .. "://' needs " .. NOT_YET[scheme] .. ", which surge does not speak "
      .. "yet; it is never sent as plaintext (tcp://host:port is plain TCP)"
  end
  if not PLAIN[scheme] then
    return nil, "unknown scheme '" .. scheme .. "://' (known: tcp://, udp://, rtsp://, dns://, "
      .. "http://, or host:port)"
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
  if not port then
    return nil, "no port in '" .. s .. "' (expected e.g. " .. scheme .. "://" .. host .. ":7000)"
  end
  if port < 1 or port > 65535 then return nil, "port out of range in '" .. s .. "'" end
  return { scheme = scheme, host = host, port = port, path = path ~= "" and path or "/",
           user = user, password = password, url = s, explicit = rest ~= s,
           transport = scheme == "udp" and "udp" or "tcp" }
end

return M
