-- surge.rtsp.auth and md5: RFC test vectors and hostile challenges.
local t = require "tap"
local auth = require "surge.rtsp.auth"
local md5 = require "surge.rtsp.md5"

-- RFC 1321 A.5
local vectors = {
  { "", "d41d8cd98f00b204e9800998ecf8427e" },
  { "a", "0cc175b9c0f1b6a831c399e269772661" },
  { "abc", "900150983cd24fb0d6963f7d28e17f72" },
  { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
  { "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
  { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f" },
  { ("1234567890"):rep(8), "57edf4a22be3c955ac49da2e2107b67a" },
  { ("a"):rep(55), "ef1772b6dff9a122358552954ad0df65" }, -- padding boundaries
  { ("a"):rep(56), "3b0c8ac703f828b04c6c197006d17218" },
  { ("a"):rep(64), "014842d480b571495a4a0363793f7367" },
}
for _, v in ipairs(vectors) do t.is(md5.hex(v[1]), v[2], "md5 of " .. #v[1] .. " bytes") end

-- RFC 7617 2 example
t.is(auth.basic("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Basic")
t.is(auth.base64("a"), "YQ==", "base64 one byte")
t.is(auth.base64("ab"), "YWI=", "base64 two bytes")

-- RFC 2617 3.5 example
local ch = auth.parse_challenge('Digest realm="testrealm@host.com", qop="auth,auth-int", ' ..
  'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
t.ok(ch and ch.scheme == "digest" and ch.realm == "testrealm@host.com" and ch.qop == "auth,auth-int",
  "Digest challenge parsed")
local st = {}
local h = auth.authorization(ch, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", st, "0a4f113b")
t.ok(h:find('response="6629fae49393a05397450978507c4ef1"', 1, true), "RFC 2617 3.5 response digest")
t.ok(h:find("nc=00000001", 1, true) and h:find('opaque="5ccc069c403ebaf9f0171e9517f40e41"', 1, true),
  "nc and opaque echoed")
h = auth.authorization(ch, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", st, "0a4f113b")
t.ok(h:find("nc=00000002", 1, true), "nonce count increases per request")

-- Without qop (RFC 2069 compatibility, what many RTSP cameras send)
ch = auth.parse_challenge('Digest realm="IP Camera", nonce="abc"')
h = auth.authorization(ch, "admin", "pw", "DESCRIBE", "rtsp://h/x", {})
-- MD5(MD5(admin:IP Camera:pw):abc:MD5(DESCRIBE:rtsp://h/x))
local want = md5.hex(md5.hex("admin:IP Camera:pw") .. ":abc:" .. md5.hex("DESCRIBE:rtsp://h/x"))
t.ok(h:find('response="' .. want .. '"', 1, true) and not h:find("qop"), "no-qop digest")

-- Quoted strings with escapes and commas
ch = auth.parse_challenge('Digest realm="a \\"quoted\\", realm", nonce=tok123, stale=FALSE')
t.ok(ch and ch.realm == 'a "quoted", realm' and ch.nonce == "tok123" and ch.stale == "FALSE",
  "escapes, commas inside quotes, tokens")

-- Choosing among challenges
t.is(auth.choose { 'Basic realm="x"', 'Digest realm="x", nonce="n"' }.scheme, "digest", "Digest preferred")
t.is(auth.choose { 'Basic realm="x"' }.scheme, "basic", "Basic when alone")
t.is(auth.choose { 'Digest realm="x", nonce="n", algorithm=SHA-256', 'Basic realm="x"' }.scheme, "basic",
  "unsupported algorithm skipped")
t.is(select(2, auth.choose { 'Negotiate abc' }), "no supported authentication scheme (Basic, Digest MD5)",
  "nothing usable")
t.is(select(2, auth.choose { 'Digest realm="x"' }), "no supported authentication scheme (Basic, Digest MD5)",
  "Digest without nonce is unusable")

-- Hostile challenges
t.is(select(2, auth.parse_challenge('Digest realm="unterminated')), "unterminated quoted string", "unterminated quote")
t.is(select(2, auth.parse_challenge('Digest realm="x\\')), "unterminated quoted string", "trailing backslash")
t.is(select(2, auth.parse_challenge("")), "bad challenge", "empty")
t.is(select(2, auth.parse_challenge(nil)), "no challenge", "nil")
t.is(select(2, auth.parse_challenge('Digest ===')), "bad challenge parameter", "garbage parameters")
t.ok(auth.parse_challenge('Digest ' .. ('a=b, '):rep(2000)), "many parameters do not break it")


-- The URL's login, read as the connection reads the target (the last '@' of
-- its authority, percent-decoded): sent after a 401, never in the URL.
do
  local fakeconn = require "fakeconn"
  local surge = require "surge"
  surge.error = function() end
  local rtsp = require "surge.proto.rtsp"
  local function answer(cseq, headers, status)
    local h = { "RTSP/1.0 " .. (status or "200 OK"), "CSeq: " .. cseq }
    for _, x in ipairs(headers) do h[#h + 1] = x end
    return table.concat(h, "\r\n") .. "\r\nContent-Length: 0\r\n\r\n"
  end
  local c = fakeconn.new(answer(1, { 'WWW-Authenticate: Basic realm="cam"' }, "401 Unauthorized")
    .. answer(2, { "Public: OPTIONS, DESCRIBE" }) .. answer(3, {}, "404 Not Found"))
  c.target = { url = "rtsp://alice:p@ss%3Aw@127.0.0.1/live" }
  pcall(rtsp.reader { watch = "1s" }.session, c)
  local sent = table.concat(c.sent)
  t.ok(sent:find("Authorization: " .. auth.basic("alice", "p@ss:w"), 1, true) ~= nil,
    "a password with an '@' and a %3A logs in whole, as the connection read it")
  t.ok(not sent:find("alice", 1, true) and sent:find("OPTIONS rtsp://127.0.0.1/live RTSP/1.0", 1, true),
    "and the requests' URL carries no userinfo: " .. sent:sub(1, 60))
end
t.done()
