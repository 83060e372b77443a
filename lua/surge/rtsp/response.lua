-- RTSP/1.0 messages as a client reads them (RFC 2326 6-7): the status line,
-- headers and a Content-Length body, with limits so hostile bytes end in an
-- error value, never a crash, a hang or unbounded memory. Also parses
-- requests a server sends (RFC 2326 10: e.g. OPTIONS, ANNOUNCE).
local find, sub, match, lower, gmatch, tonumber =
  string.find, string.sub, string.match, string.lower, string.gmatch, tonumber

local M = {}

M.MAX_HEAD = 16384   -- bytes of status line + headers
M.MAX_HEADERS = 64
M.MAX_BODY = 65536   -- an SDP of a few tracks is ~1 KiB

-- parse_head(head) -> msg or nil, err. head is the text up to and including
-- the empty line. msg = { status = 200, reason = "OK", version = "1.0",
-- headers = { ["cseq"] = "2", ... } (names lowercased; repeats joined by
-- ", " per RFC 2616 4.2 except www-authenticate, kept as a list in
-- msg.challenges), content_length = n } or for a request { method, url }.
function M.parse_head(head)
  if type(head) ~= "string" then return nil, "malformed" end
  if #head > M.MAX_HEAD then return nil, "too long" end
  local first_end = find(head, "\r\n", 1, true)
  if not first_end then return nil, "malformed" end
  local line = sub(head, 1, first_end - 1)
  local msg = { headers = {}, challenges = {} }
  -- RFC 2326 7.1: Status-Line = RTSP-Version SP Status-Code SP Reason-Phrase CRLF
  local ver, code, reason = match(line, "^RTSP/(%d+%.%d+) (%d%d%d) ([^\r\n]*)$")
  if not ver then
    -- a missing reason phrase (and its space) is common enough to accept
    ver, code = match(line, "^RTSP/(%d+%.%d+) (%d%d%d)$")
    reason = ""
  end
  if ver then
    msg.version, msg.status, msg.reason = ver, tonumber(code), reason
  else
    -- RFC 2326 6.1: Request-Line = Method SP Request-URI SP RTSP-Version CRLF
    local method, url, v = match(line, "^([%u_]+) (%S+) RTSP/(%d+%.%d+)$")
    if not method then return nil, "bad status line" end
    msg.method, msg.url, msg.version = method, url, v
  end
  local n, pos = 0, first_end + 2
  while true do
    local e = find(head, "\r\n", pos, true)
    if not e then return nil, "malformed" end
    if e == pos then break end -- the empty line
    local hl = sub(head, pos, e - 1)
    -- RFC 2616 4.2 (RFC 2326 4): field-name ":" [ field-value ]; obsolete
    -- line folding is refused rather than guessed at.
    local name, value = match(hl, "^([%w!#$%%&'*+.^_`|~-]+):[ \t]*(.-)[ \t]*$")
    if not name then return nil, "bad header" end
    n = n + 1
    if n > M.MAX_HEADERS then return nil, "too many headers" end
    name = lower(name)
    if name == "www-authenticate" then msg.challenges[#msg.challenges + 1] = value end
    local old = msg.headers[name]
    msg.headers[name] = old and (old .. ", " .. value) or value
    pos = e + 2
  end
  local cl = msg.headers["content-length"]
  if cl then
    -- Repeated Content-Length headers that disagree are a smuggling
    -- vector; a single decimal value is all we accept (RFC 7230 3.3.2).
    if not match(cl, "^%d+$") or #cl > 9 then return nil, "bad content-length" end
    msg.content_length = tonumber(cl)
    if msg.content_length > M.MAX_BODY then return nil, "too long" end
  else
    msg.content_length = 0
  end
  local cseq = msg.headers["cseq"]
  if cseq then
    if not match(cseq, "^%d+$") or #cseq > 9 then return nil, "bad cseq" end
    msg.cseq = tonumber(cseq)
  end
  return msg
end

-- read(conn) -> msg (with msg.body) or nil, err: reads one message head and
-- its body from a session connection. err: the conn's ("closed", "timeout",
-- "reset", ...) or a parse error ("too long", "bad status line", ...).
function M.read(conn)
  local head, err = conn:read_until("\r\n\r\n", M.MAX_HEAD)
  if not head then return nil, err end
  local msg, perr = M.parse_head(head)
  if not msg then return nil, perr end
  if msg.content_length > 0 then
    local body, berr = conn:read(msg.content_length)
    if not body then return nil, berr end
    msg.body = body
  else
    msg.body = ""
  end
  return msg
end

-- Session header (RFC 2326 12.37): "id[;timeout=n]" -> id, timeout (s).
function M.session(value)
  if type(value) ~= "string" then return nil end
  local id, params = match(value, "^%s*([%w$%-_.+]+)%s*(.*)$")
  if not id then return nil end
  local timeout = tonumber(match(params, ";%s*timeout%s*=%s*(%d+)"))
  return id, timeout
end

-- RTP-Info header (RFC 2326 12.33): "url=U;seq=N;rtptime=T,url=..." ->
-- a list of { url = U, seq = N or nil }, at most MAX_HEADERS entries. A
-- URL holding ',' or ';' cannot be told from the list's own separators in
-- RTSP 1.0: such an entry simply matches no track.
function M.rtp_info(value)
  local list = {}
  if type(value) ~= "string" then return list end
  for entry in gmatch(value, "[^,]+") do
    local url, params = match(entry, "^%s*url=([^;]*)(.*)$")
    if url then
      local seq = tonumber(match(params, ";%s*seq%s*=%s*(%d+)"))
      list[#list + 1] = { url = url, seq = seq and seq < 65536 and seq or nil }
      if #list >= M.MAX_HEADERS then break end
    end
  end
  return list
end

-- Public header (RFC 2326 12.28) -> set of method names.
function M.methods(value)
  local set = {}
  for m in gmatch(value or "", "[%w_]+") do set[m] = true end
  return set
end

return M
