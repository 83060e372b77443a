-- surge.rtsp.rtp: header parsing, loss counted once across wraparound,
-- reordering, RFC 3550 jitter, H.264/H.265 keyframes, hostile packets.
local ffi = require "ffi"
local t = require "tap"
local rtp = require "surge.rtsp.rtp"

local char = string.char
local function u16(n) return char(math.floor(n / 256) % 256, n % 256) end
local function u32(n) return u16(math.floor(n / 65536) % 65536) .. u16(n % 65536) end

-- pkt { seq =, ts =, payload =, pt =, cc =, ext = words, pad = n, marker = }
local function pkt(o)
  local cc = o.cc or 0
  local b0 = 0x80 + cc + (o.ext and 0x10 or 0) + (o.pad and 0x20 or 0)
  local s = char(b0, (o.marker and 0x80 or 0) + (o.pt or 96)) .. u16(o.seq or 0) .. u32(o.ts or 0) .. u32(o.ssrc or 1)
  s = s .. ("\0\0\0\1"):rep(cc)
  if o.ext then s = s .. u16(0xbede) .. u16(o.ext) .. ("\0\0\0\0"):rep(o.ext) end
  s = s .. (o.payload or "\65")
  if o.pad then s = s .. ("\0"):rep(o.pad - 1) .. char(o.pad) end
  return s
end

local keep = {}
local function feed(tr, s, arrival)
  keep[1] = s
  return rtp.packet(tr, ffi.cast("const uint8_t *", s), #s, arrival or 0)
end
local function hdr(s)
  keep[1] = s
  return rtp.header(ffi.cast("const uint8_t *", s), #s)
end

-- Header fields (RFC 3550 5.1)
local h = hdr(pkt { seq = 65535, ts = 4294967295, pt = 96, marker = true, cc = 2, ext = 1, pad = 4, payload = "xyz" })
t.ok(h and h.seq == 65535 and h.ts == 4294967295 and h.pt == 96 and h.marker and h.cc == 2,
  "seq, ts, pt, marker, CSRC count")
t.is(h and h.offset, 12 + 8 + 4 + 4, "payload offset after CSRCs and extension")
t.is(h and h.payload_len, 3, "padding removed from the payload length")
t.is(select(2, hdr(("\128"):rep(11))), "short", "11 bytes")
t.is(select(2, hdr("\64" .. ("\0"):rep(20))), "version", "version 1")
t.is(select(2, hdr(char(0x8f) .. ("\0"):rep(20))), "short", "15 CSRCs that are not there")
t.is(select(2, hdr(char(0x90) .. ("\0"):rep(13) .. "\255\255")), "short", "extension longer than the packet")
t.is(select(2, hdr(char(0xa0) .. ("\0"):rep(12) .. "\0")), "padding", "padding count 0")
t.is(select(2, hdr(char(0xa0) .. ("\0"):rep(12) .. "\200")), "short", "padding longer than the packet")

-- In order, no loss
local tr = rtp.track("h264", 90000, 96)
for i = 0, 99 do feed(tr, pkt { seq = 1000 + i, ts = i * 3600 }, i * 3600) end
t.ok(tr.received == 100 and rtp.lost(tr) == 0 and tr.reordered == 0, "100 in order: no loss, no reorder")
t.ok(tr.jitter < 1e-9, "jitter 0 when arrival tracks the timestamps exactly")

-- Loss counted once, across the 16-bit wrap
tr = rtp.track(nil, 90000)
local seqs = {}
for i = 0, 199 do
  local seq = (65500 + i) % 65536
  if i ~= 50 and i ~= 120 and i ~= 121 then seqs[#seqs + 1] = seq end
end
for _, s in ipairs(seqs) do feed(tr, pkt { seq = s }) end
t.is(rtp.lost(tr), 3, "three lost, one of them right at the wrap")
t.is(tr.cycles, 65536, "one wrap counted")

-- Reordering: a late packet is reordered, and the loss it looked like is undone
tr = rtp.track(nil, 90000)
for _, s in ipairs { 10, 11, 13, 12, 14, 16, 17, 15, 18 } do feed(tr, pkt { seq = s }) end
t.ok(tr.reordered == 2 and rtp.lost(tr) == 0, "two late packets: reordered 2, lost 0")
-- reordered across the wrap
tr = rtp.track(nil, 90000)
for _, s in ipairs { 65534, 0, 65535, 1 } do feed(tr, pkt { seq = s }) end
t.ok(tr.reordered == 1 and rtp.lost(tr) == 0 and tr.max_seq == 1, "late packet across the wrap")

-- Duplicates do not count twice
tr = rtp.track(nil, 90000)
for _, s in ipairs { 1, 2, 2, 3 } do feed(tr, pkt { seq = s }) end
t.ok(tr.duplicates == 1 and tr.received == 3 and rtp.lost(tr) == 0, "duplicate ignored")

-- A repeat of a packet behind the highest is a duplicate too, not a late
-- packet: counted once, it cannot make loss negative (RFC 3550 A.3)
tr = rtp.track(nil, 90000)
for _, s in ipairs { 100, 101, 102, 101, 101, 101, 103 } do feed(tr, pkt { seq = s }) end
t.ok(tr.duplicates == 3 and tr.reordered == 0 and tr.received == 4 and rtp.lost(tr) == 0,
  "three repeats of 101 behind 102: duplicates 3, reordered 0, lost 0 (got " .. tr.duplicates ..
  ", " .. tr.reordered .. ", " .. rtp.lost(tr) .. ")")
tr = rtp.track(nil, 90000)
for _, s in ipairs { 100, 101, 103, 104, 102, 102 } do feed(tr, pkt { seq = s }) end
t.ok(tr.reordered == 1 and tr.duplicates == 1 and rtp.lost(tr) == 0,
  "102 late, then again: reordered 1, duplicates 1, lost 0")
tr = rtp.track(nil, 90000)
for _, s in ipairs { 65533, 65535, 0, 65534, 65534, 65533, 1 } do feed(tr, pkt { seq = s }) end
t.ok(tr.reordered == 1 and tr.duplicates == 2 and rtp.lost(tr) == 0 and tr.received == 5,
  "late and repeated packets across the wrap")
tr = rtp.track(nil, 90000)
for _, s in ipairs { 10, 11, 12 } do feed(tr, pkt { seq = s }) end
feed(tr, pkt { seq = 12 + 200 }) -- skips 200: none of 13..211 was seen
feed(tr, pkt { seq = 150 })
t.ok(tr.reordered == 1 and tr.duplicates == 0 and rtp.lost(tr) == 198,
  "after a jump past the window, a late packet is no duplicate")
feed(tr, pkt { seq = 12 + 128 + 200 }) -- 128 ahead: the window turns over exactly
feed(tr, pkt { seq = 12 + 200 + 100 })
t.ok(tr.reordered == 2 and tr.duplicates == 0, "a window that turned over exactly keeps no stale bit")

-- A big jump: one stray packet is set aside; two in sequence are a restart (A.1)
tr = rtp.track(nil, 90000)
for _, s in ipairs { 100, 101, 30000, 102, 103 } do feed(tr, pkt { seq = s }) end
t.ok(tr.bad == 1 and rtp.lost(tr) == 0 and tr.max_seq == 103, "stray sequence number set aside")
for _, s in ipairs { 40000, 40001, 40002 } do feed(tr, pkt { seq = s }) end
t.ok(tr.restarts == 1 and tr.max_seq == 40002 and rtp.lost(tr) == 0, "restart resynchronizes without fake loss")
t.is(rtp.received(tr), 6, "packets before the restart still count: 100-103, 40001, 40002")

-- The first sequence number announced (RTSP's RTP-Info): the gap before
-- the first arrival is first_gap, across the wrap too, and not loss; a
-- first packet behind the announced number, or a dropout ahead, has none.
tr = rtp.track(nil, 90000)
rtp.expect(tr, 500)
for _, s in ipairs { 503, 504, 505 } do feed(tr, pkt { seq = s }) end
t.ok(tr.first_gap == 3 and rtp.lost(tr) == 0, "announced 500, first received 503: a gap of 3, none lost")
tr = rtp.track(nil, 90000)
rtp.expect(tr, 65534)
for _, s in ipairs { 1, 2 } do feed(tr, pkt { seq = s }) end
t.is(tr.first_gap, 3, "announced 65534, first received 1: a gap of 3 across the wrap")
tr = rtp.track(nil, 90000)
rtp.expect(tr, 700)
for _, s in ipairs { 700, 701 } do feed(tr, pkt { seq = s }) end
t.is(tr.first_gap, 0, "first packet as announced: no gap")
for _, case in ipairs { { 700, 699, "behind" }, { 700, 3700, "3000 ahead of" }, { 700, 30000, "far ahead of" } } do
  tr = rtp.track(nil, 90000)
  rtp.expect(tr, case[1])
  for i = 0, 2 do feed(tr, pkt { seq = (case[2] + i) % 65536 }) end
  t.ok(tr.first_gap == 0 and rtp.lost(tr) == 0, "a first packet " .. case[3] .. " the announced one: no gap")
end
tr = rtp.track(nil, 90000)
feed(tr, pkt { seq = 10 })
rtp.expect(tr, 5)
feed(tr, pkt { seq = 11 })
t.is(tr.first_gap, 0, "an announcement after the first packet changes nothing")
for _, bad in ipairs { -1, 65536, 1.5, "7", 0 / 0 } do
  tr = rtp.track(nil, 90000)
  rtp.expect(tr, bad)
  feed(tr, pkt { seq = 9 })
  t.ok(tr.expect_seq == -1 and tr.first_gap == 0, "announced " .. tostring(bad) .. ": ignored")
end

-- Jitter (RFC 3550 A.8): alternating +-d arrival noise converges to ~d*2 (|D| = 2d each step)
tr = rtp.track(nil, 90000)
for i = 0, 999 do
  local noise = (i % 2 == 0) and 0 or 90 -- 1 ms at 90 kHz
  feed(tr, pkt { seq = i, ts = i * 3600 }, i * 3600 + noise)
end
t.ok(math.abs(tr.jitter - 90) < 1, ("jitter converges to |D| = 90 units (%.2f)"):format(tr.jitter))
-- timestamp wraparound does not spike jitter
tr = rtp.track(nil, 90000)
for i = 0, 9 do feed(tr, pkt { seq = i, ts = (4294967296 - 5 * 3600 + i * 3600) % 4294967296 }, i * 3600) end
t.ok(tr.jitter < 1e-9, "timestamp wrap: jitter stays 0")

-- Keyframes: H.264 (RFC 6184)
local function key264(payload) keep[2] = payload; return rtp.keyframe("h264", ffi.cast("const uint8_t *", payload), #payload) end
t.ok(key264("\101\136"), "single NAL IDR (type 5)")
t.ok(not key264("\65\154"), "single NAL non-IDR (type 1)")
t.ok(not key264("\103\66"), "SPS alone is not a keyframe")
t.ok(key264("\24" .. u16(2) .. "\103\66" .. u16(2) .. "\104\206" .. u16(3) .. "\101\136\0"), "STAP-A with SPS, PPS, IDR")
t.ok(not key264("\24" .. u16(2) .. "\103\66" .. u16(500) .. "\101"), "STAP-A with a lying size")
t.ok(not key264("\24" .. u16(0) .. u16(0)), "STAP-A with zero sizes")
t.ok(key264("\124\133" .. "data"), "FU-A start of an IDR")
t.ok(not key264("\124\5" .. "data"), "FU-A middle of an IDR")
t.ok(not key264("\124\129" .. "data"), "FU-A start of a non-IDR")
t.ok(not key264("\124"), "FU-A without its header")
-- H.265 (RFC 7798)
local function key265(payload) keep[2] = payload; return rtp.keyframe("h265", ffi.cast("const uint8_t *", payload), #payload) end
t.ok(key265(char(19 * 2, 1) .. "x"), "IDR_W_RADL (19)")
t.ok(key265(char(21 * 2, 1) .. "x"), "CRA (21)")
t.ok(not key265(char(1 * 2, 1) .. "x"), "TRAIL_R (1)")
t.ok(key265(char(48 * 2, 1) .. u16(3) .. char(32 * 2, 1, 0) .. u16(3) .. char(20 * 2, 1, 0)), "AP with VPS then IDR_N_LP")
t.ok(not key265(char(48 * 2, 1) .. u16(1) .. "x"), "AP with a 1-byte NAL")
t.ok(key265(char(49 * 2, 1, 0x80 + 19) .. "data"), "FU start of IDR")
t.ok(not key265(char(49 * 2, 1, 19) .. "data"), "FU continuation")
t.ok(not key265(char(49 * 2, 1)), "FU without its header")

-- Keyframes counted once per access unit (one RTP timestamp)
tr = rtp.track("h264", 90000)
local r1 = feed(tr, pkt { seq = 1, ts = 9000, payload = "\124\133a" })
local r2 = feed(tr, pkt { seq = 2, ts = 9000, payload = "\101\136" }) -- second slice, same picture
local r3 = feed(tr, pkt { seq = 3, ts = 12600, payload = "\101\136" })
t.ok(r1 == 1 and r2 == 0 and r3 == 1 and tr.keyframes == 2, "two IDR pictures, three IDR packets")

-- Hostile packets are counted, never fatal
tr = rtp.track("h264", 90000)
t.is(feed(tr, "\128\96"), -1, "2-byte packet")
t.is(feed(tr, ("\255"):rep(40)), -1, "version 3")
t.is(feed(tr, char(0x9f) .. ("\0"):rep(12)), 0, "header claims CSRCs/extension beyond the end: counted, no keyframe")
t.is(feed(tr, char(0xa0, 96, 0, 2) .. ("\0"):rep(8) .. "\101\255"), 0, "padding longer than payload: no keyframe")
t.is(tr.bad, 2, "malformed ones counted")

-- The hot path stays compiled
if jit and jit.status() then
  tr = rtp.track("h264", 90000)
  local s = pkt { seq = 0, ts = 0, payload = ("\65"):rep(1188) }
  local buf = ffi.new("uint8_t[?]", #s)
  ffi.copy(buf, s, #s)
  local p = ffi.cast("const uint8_t *", buf)
  local jutil = require "jit.util"
  for i = 0, 200000 do
    buf[2], buf[3] = math.floor(i / 256) % 256, i % 256
    rtp.packet(tr, p, #s, i)
  end
  t.ok(tr.received == 200001 and rtp.lost(tr) == 0, "200k packets through the compiled path")
  t.ok(jutil.traceinfo(1) ~= nil, "traces were compiled")
end

t.done()
