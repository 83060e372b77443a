-- surge.target: URLs parsed, and each mistake named for what it is (a bad
-- port is not "no host"; an IPv6 example is written in brackets).
local t = require "tap"
local target = require "surge.target"

local function parses(url, host, port)
  local tg, err = target.parse(url)
  t.ok(tg and tg.host == host and tg.port == port, url .. " -> " .. host .. " " .. port .. ": "
    .. tostring(err))
end
parses("tcp://127.0.0.1:7000", "127.0.0.1", 7000)
parses("127.0.0.1:7000", "127.0.0.1", 7000)
parses("tcp://[::1]:7000", "::1", 7000)
parses("http://[::1]", "::1", 80)
parses("rtsp://u:p@cam/live", "cam", 554)

-- RFC 3986 6.2.3, RFC 9112 3.2.1: an empty path is "/", also before a query
-- (curl asks "http://h?x=1" for "/?x=1"); the path keeps its query.
local function path_of(url, want)
  local tg, err = target.parse(url)
  t.is(tg and tg.path, want, url .. " -> path " .. want .. (err and (": " .. err) or ""))
end
path_of("http://127.0.0.1:8080", "/")
path_of("http://127.0.0.1:8080?x=1", "/?x=1")
path_of("http://127.0.0.1?x=1&y=2", "/?x=1&y=2")
path_of("http://127.0.0.1:8080#frag", "/#frag")
path_of("http://127.0.0.1:8080/a?x=1", "/a?x=1")

local function refuses(url, want)
  local tg, err = target.parse(url)
  t.ok(tg == nil and err and err:find(want, 1, true), url .. " refused: " .. tostring(err))
end
refuses("tcp://[::1]", "no port in 'tcp://[::1]' (expected e.g. tcp://[::1]:7000)")
refuses("tls://[::1]", "e.g. tls://[::1]:853")
refuses("tcp://::1:7000", "an IPv6 address needs brackets in 'tcp://::1:7000' (e.g. tcp://[::1]:7000)")
refuses("http://127.0.0.1:18080:80/", "two ports in 'http://127.0.0.1:18080:80/' (expected one, e.g. http://127.0.0.1:18080)")
refuses("tcp://localhost:80:", "two ports in 'tcp://localhost:80:' (expected one, e.g. tcp://localhost:80)")
refuses("tcp://fe80:1:7000", "an IPv6 address needs brackets in 'tcp://fe80:1:7000' (e.g. tcp://[::1]:7000)")
refuses("tcp://127.0.0.1:abc", "bad port 'abc' in 'tcp://127.0.0.1:abc' (expected a number from 1 to 65535")
refuses("tcp://127.0.0.1:-1", "bad port '-1' in")
refuses("tcp://127.0.0.1:7000x", "bad port '7000x' in")
refuses("tcp://127.0.0.1:99999", "bad port '99999' in")
refuses("tcp://127.0.0.1:0", "bad port '0' in")
refuses("tcp://[::1]x", "bad port 'x' in")
refuses("tcp://:7000", "no host in 'tcp://:7000'")
refuses("tcp://host", "no port in 'tcp://host' (expected e.g. tcp://host:7000)")

-- RFC 3986 3.2.1, 2.1: userinfo is user[:password], each percent-decoded
-- ("%40" is "@", "%3A" is ":"); no ':' is no password, not an empty one.
local function userinfo(url, user, password)
  local tg, err = target.parse(url)
  t.ok(tg and tg.user == user and tg.password == password,
    url .. " -> user " .. tostring(user) .. ", password " .. tostring(password) .. ": "
    .. (tg and (tostring(tg.user) .. ", " .. tostring(tg.password)) or tostring(err)))
end
userinfo("http://127.0.0.1/", nil, nil)
userinfo("http://alice:secret@127.0.0.1/", "alice", "secret")
userinfo("http://a%40b.test:p%3Aq%25r@127.0.0.1/", "a@b.test", "p:q%r")
userinfo("http://alice:p@ss@127.0.0.1/", "alice", "p@ss")
userinfo("http://alice@127.0.0.1/", "alice", nil)
userinfo("http://alice:@127.0.0.1/", "alice", "")
userinfo("http://%zz:%4@127.0.0.1/", "%zz", "%4")

-- A message that quotes a target with a password quotes it without.
for _, u in ipairs { "http://u:s3cret@127.0.0.1:abc/", "http://u:s3cret@:80/", "http://u:s3cret@[::1/",
                     "http://u:s3cret@h:1:2/", "tls://u:s3cret@h/", "http://u:s3cret#x@127.0.0.1:1/",
                     "http://u:s3cret/x@127.0.0.1:1/", "http://u:s3cret?x@127.0.0.1:1/" } do
  local r, err = target.parse(u)
  t.ok(r == nil and not err:find("s3cret", 1, true) and err:find("u@", 1, true) ~= nil,
    "an error quotes " .. u .. " without its password: " .. tostring(err))
end

-- A user alone is often a token (https://TOKEN@host/): none of it is quoted;
-- an '@' in the path is not userinfo.
for _, c in ipairs {
  { "https://tok3n@127.0.0.1:abc/", "https://127.0.0.1:abc/" },
  { "http://tok3n@h:1:2/x", "http://h:1:2/x" },
  { "http://h/tok3n@b", "http://h/tok3n@b" },
  { "https://tok3n@127.0.0.1/users/me@example.test", "https://127.0.0.1/users/me@example.test" },
  { "tok3n@127.0.0.1:7000", "127.0.0.1:7000" },
  { "http://u:s3cret@h/", "http://u@h/" },
  { "http://u:s3cret@h/a@b", "http://u@h/a@b" },
  { "http://u:p@s3cret@h/x", "http://u@h/x" },
  { "http://u:s3cret/x@h/", "http://u@h/" },
  { "http://127.0.0.1:8080/users/me@example.test", "http://127.0.0.1:8080/users/me@example.test" },
  { "http://h:80/?email=a@b", "http://h:80/?email=a@b" },
  { "http://h:80/#x@y", "http://h:80/#x@y" },
  { "http://[::1]:8080/a@b", "http://[::1]:8080/a@b" },
  { "127.0.0.1:7000/a@b", "127.0.0.1:7000/a@b" },
  { "http://u:pw#frag@h/", "http://u@h/" },
} do
  t.ok(target.shown(c[1]) == c[2], c[1] .. " is shown as " .. c[2] .. ": " .. target.shown(c[1]))
end
local _, err = target.parse("https://tok3n@127.0.0.1:abc/")
t.ok(err and not err:find("tok3n", 1, true), "an error quotes a user-only target without it: "
  .. tostring(err))

t.done()
