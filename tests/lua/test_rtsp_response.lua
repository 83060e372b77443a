-- surge.rtsp.response: RTSP/1.0 heads and bodies, hostile ones included.
local t = require "tap"
local response = require "surge.rtsp.response"
local fakeconn = require "fakeconn"

local function head(lines) return table.concat(lines, "\r\n") .. "\r\n\r\n" end

-- A good response (RFC 2326 7.1)
local m = response.parse_head(head { "RTSP/1.0 200 OK", "CSeq: 2", "Content-Type: application/sdp",
  "Content-Length: 12", "Public: OPTIONS, DESCRIBE,  SETUP" })
t.is(m and m.status, 200, "status code")
t.is(m and m.reason, "OK", "reason phrase")
t.is(m and m.cseq, 2, "CSeq parsed as a number")
t.is(m and m.content_length, 12, "content length")
t.is(m and m.headers["content-type"], "application/sdp", "header names are case-insensitive")
local pub = response.methods(m.headers.public)
t.ok(pub.DESCRIBE and pub.SETUP and not pub.PLAY, "Public as a set of methods")

-- A reason phrase may be empty; header repeats are joined; challenges listed
m = response.parse_head(head { "RTSP/1.0 401 ", "CSeq: 3", "WWW-Authenticate: Digest realm=\"x\", nonce=\"n\"",
  "WWW-Authenticate: Basic realm=\"x\"" })
t.is(m and m.status, 401, "401 with an empty reason")
t.is(m and #m.challenges, 2, "both WWW-Authenticate values kept")
t.is(m and m.content_length, 0, "no Content-Length means no body")

-- A request from the server (RFC 2326 10)
m = response.parse_head(head { "OPTIONS * RTSP/1.0", "CSeq: 9" })
t.ok(m and m.method == "OPTIONS" and m.url == "*" and not m.status, "a server's request is told apart")

-- Bad status lines
for _, bad in ipairs {
  "HTTP/1.1 200 OK", "RTSP/1.0 2000 OK", "RTSP/1.0 OK", "RTSP/1.0  200 OK", "rtsp/1.0 200 OK",
  "RTSP/1.0 20 OK", "", "\0\0\0\0", "RTSP/x 200 OK", "RTSP/1.0 200 OK\rX",
} do
  local r, err = response.parse_head(bad .. "\r\nCSeq: 1\r\n\r\n")
  t.ok(r == nil and (err == "bad status line" or err == "malformed"),
    ("bad status line refused: %q -> %s"):format(bad, tostring(err)))
end
t.is(select(2, response.parse_head("RTSP/1.0 200 OK")), "malformed", "no CRLF at all")
t.is(select(2, response.parse_head("RTSP/1.0 200 OK\r\nCSeq: 1\r\n")), "malformed", "no empty line")

-- Bad headers and values
t.is(select(2, response.parse_head(head { "RTSP/1.0 200 OK", "CSeq 1" })), "bad header", "header without colon")
t.is(select(2, response.parse_head(head { "RTSP/1.0 200 OK", " folded: x" })), "bad header", "line folding refused")
t.is(select(2, response.parse_head(head { "RTSP/1.0 200 OK", "CSeq: -1" })), "bad cseq", "negative CSeq")
t.is(select(2, response.parse_head(head { "RTSP/1.0 200 OK", "CSeq: 99999999999999999999" })), "bad cseq", "huge CSeq")
for _, cl in ipairs { "-5", "abc", "1e3", "12, 13", "0x10", "99999999999", " " } do
  t.is(select(2, response.parse_head(head { "RTSP/1.0 200 OK", "Content-Length: " .. cl })),
    "bad content-length", "bad Content-Length refused: " .. cl)
end
t.is(select(2, response.parse_head(head { "RTSP/1.0 200 OK", "Content-Length: 5", "Content-Length: 6" })),
  "bad content-length", "disagreeing Content-Length headers refused")
t.is(select(2, response.parse_head(head { "RTSP/1.0 200 OK", "Content-Length: 100000000" })),
  "too long", "a body over the limit is refused before reading it")

-- Giant heads and too many headers
local many = { "RTSP/1.0 200 OK" }
for i = 1, 100 do many[#many + 1] = "X-H" .. i .. ": v" end
t.is(select(2, response.parse_head(head(many))), "too many headers", "header count limit")
t.is(select(2, response.parse_head(head { "RTSP/1.0 200 OK", "X: " .. ("a"):rep(20000) })),
  "too long", "head size limit")

-- Reading from a connection
local c = fakeconn.new(head { "RTSP/1.0 200 OK", "CSeq: 4", "Content-Length: 5" } .. "hello$rest")
m = response.read(c)
t.ok(m and m.body == "hello" and c.buf == "$rest", "body read exactly; what follows stays buffered")

-- Lying Content-Length: longer than what arrives -> the conn's error, no hang
c = fakeconn.new(head { "RTSP/1.0 200 OK", "Content-Length: 50" } .. "short", "timeout")
local r, err = response.read(c)
t.ok(r == nil and err == "timeout", "a body that never arrives ends in the conn's error")

-- A head that never ends, bigger than the limit: "too long", not unbounded
c = fakeconn.new("RTSP/1.0 200 OK\r\n" .. ("X: y\r\n"):rep(5000))
r, err = response.read(c)
t.ok(r == nil and err == "too long", "endless head refused at the limit (" .. tostring(err) .. ")")

-- Binary garbage where a response should be
c = fakeconn.new(("\255\0\1"):rep(10) .. "\r\n\r\n")
r, err = response.read(c)
t.ok(r == nil and err == "bad status line", "garbage refused: " .. tostring(err))

-- Session header (RFC 2326 12.37)
local id, to = response.session("12345678;timeout=60")
t.ok(id == "12345678" and to == 60, "Session with timeout")
id, to = response.session("abc-DEF_1.2+$")
t.ok(id == "abc-DEF_1.2+$" and to == nil, "Session without timeout")
t.is(response.session(";timeout=5"), nil, "Session without an id")
t.is(response.session(nil), nil, "no Session header")

-- RTP-Info (RFC 2326 12.33)
local info = response.rtp_info("url=rtsp://h/s/track0;seq=45102;rtptime=12345, url=track1;seq=7")
t.ok(#info == 2 and info[1].url == "rtsp://h/s/track0" and info[1].seq == 45102 and
  info[2].url == "track1" and info[2].seq == 7, "two tracks, absolute and relative URLs")
info = response.rtp_info("url=rtsp://h/s;rtptime=1")
t.ok(#info == 1 and info[1].seq == nil, "an entry without seq")
info = response.rtp_info("url=a;seq=70000,garbage,url=b;seq=x")
t.ok(#info == 2 and info[1].seq == nil and info[2].seq == nil, "seq past 16 bits or not a number: none")
t.is(#response.rtp_info(nil), 0, "no RTP-Info header")
t.is(#response.rtp_info(("url=x;seq=1,"):rep(1000)), response.MAX_HEADERS, "entries bounded")

t.done()
