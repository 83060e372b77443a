-- SDP (RFC 4566) as an RTSP client needs it: the session's and each media's
-- a=control, payload types with their encodings and clock rates
-- (a=rtpmap, RFC 4566 6), and control URLs resolved per RFC 2326 C.1.1.
local find, sub, match, lower, gmatch, tonumber =
  string.find, string.sub, string.match, string.lower, string.gmatch, tonumber

local M = {}

M.MAX_MEDIA = 16

-- Static payload types with a known clock rate (RFC 3551 6, Table 4-5).
local STATIC = {
  [0] = { "PCMU", 8000 }, [3] = { "GSM", 8000 }, [4] = { "G723", 8000 },
  [8] = { "PCMA", 8000 }, [9] = { "G722", 8000 }, [10] = { "L16", 44100 },
  [11] = { "L16", 44100 }, [14] = { "MPA", 90000 }, [26] = { "JPEG", 90000 },
  [31] = { "H261", 90000 }, [32] = { "MPV", 90000 }, [33] = { "MP2T", 90000 },
  [34] = { "H263", 90000 },
}

-- The base for relative control URLs (RFC 2326 C.1.1): Content-Base, else
-- Content-Location, else the DESCRIBE request URL.
function M.base(request_url, headers)
  headers = headers or {}
  return headers["content-base"] or headers["content-location"] or request_url
end

-- resolve(base, control) -> absolute URL. RFC 2326 C.1.1: "*" means the
-- base itself; an absolute rtsp URL stands alone; otherwise relative to the
-- base. Servers (GStreamer, live555) send Content-Base with a trailing
-- slash and controls like "stream=0"; when a base lacks the slash, clients
-- in the field (live555, VLC, ffmpeg) treat the base as a directory anyway,
-- because RFC 3986's rule (replace the last segment) breaks most servers.
function M.resolve(base, control)
  if control == nil or control == "" or control == "*" then return base end
  if match(control, "^%a[%w+.-]*://") then return control end
  local origin = match(base, "^(%a[%w+.-]*://[^/]*)")
  if not origin then return control end
  if sub(control, 1, 1) == "/" then return origin .. control end
  -- A query or fragment on the base does not belong to the track URL.
  local path = match(base, "^[^?#]*")
  if sub(path, -1) ~= "/" then path = path .. "/" end
  return path .. control
end

-- parse(text, base) -> sdp or nil, err.
-- sdp = { control = "*", url = aggregate URL, media = { { type = "video",
--   port = 0, proto = "RTP/AVP", fmts = { 96 }, pt = 96, encoding = "H264",
--   clock_rate = 90000, control = "stream=0", url = "rtsp://.../stream=0",
--   rtpmap = { [96] = { "H264", 90000 } }, fmtp = { [96] = "..." } }, ... } }
function M.parse(text, base)
  if type(text) ~= "string" then return nil, "no sdp" end
  local sdp = { media = {} }
  local cur = sdp
  local seen_v = false
  for line in gmatch(text, "([^\n]*)\n?") do
    line = match(line, "^(.-)\r?$")
    if line ~= "" then
      -- RFC 4566 5: <type>=<value>, type a single letter
      local t, v = match(line, "^(%a)=(.*)$")
      if not t then return nil, "bad sdp line" end
      if t == "v" then
        seen_v = true
      elseif t == "m" then
        if #sdp.media >= M.MAX_MEDIA then return nil, "too many media" end
        -- RFC 4566 5.14: m=<media> <port>[/<n>] <proto> <fmt> ...
        local mtype, port, proto, fmts = match(v, "^(%S+) (%d+)%S* (%S+)(.*)$")
        if not mtype then return nil, "bad m= line" end
        cur = { type = mtype, port = tonumber(port), proto = proto, fmts = {},
                rtpmap = {}, fmtp = {} }
        for f in gmatch(fmts, "%S+") do cur.fmts[#cur.fmts + 1] = tonumber(f) or f end
        sdp.media[#sdp.media + 1] = cur
      elseif t == "a" then
        local name, value = match(v, "^([^:]+):?(.*)$")
        if name == "control" then
          cur.control = value
        elseif name == "rtpmap" and cur ~= sdp then
          -- RFC 4566 6: a=rtpmap:<pt> <encoding>/<clock rate>[/<params>]
          local pt, enc, rate = match(value, "^(%d+)%s+([^/%s]+)/(%d+)")
          if not pt then return nil, "bad rtpmap" end
          -- RTP timestamps count in this unit (RFC 3550 5.1): a rate of 0
          -- would make every jitter in seconds infinite.
          rate = tonumber(rate)
          if rate == 0 then return nil, "bad clock rate" end
          cur.rtpmap[tonumber(pt)] = { enc, rate }
        elseif name == "fmtp" and cur ~= sdp then
          local pt, params = match(value, "^(%d+)%s*(.*)$")
          if pt then cur.fmtp[tonumber(pt)] = params end
        end
      end
    end
  end
  if not seen_v then return nil, "not an sdp (no v= line)" end
  sdp.url = M.resolve(base, sdp.control)
  for _, m in ipairs(sdp.media) do
    m.url = M.resolve(base, m.control)
    local pt = m.fmts[1]
    m.pt = type(pt) == "number" and pt or nil
    local map = m.pt and (m.rtpmap[m.pt] or STATIC[m.pt])
    if map then
      m.encoding, m.clock_rate = map[1], map[2]
      local up = m.encoding:upper()
      m.codec = (up == "H264" and "h264") or ((up == "H265" or up == "HEVC") and "h265") or nil
    end
  end
  return sdp
end

return M
