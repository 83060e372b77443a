-- RTP receive statistics for one stream (RFC 3550): header parsing (5.1),
-- sequence tracking with loss counted once and wraparound-safe (A.1, A.3),
-- reordering, interarrival jitter (6.4.1, A.8), and keyframe detection in
-- H.264 (RFC 6184) and H.265 (RFC 7798) payloads. Works on FFI pointers:
-- nothing allocates per packet. A track's state is one FFI struct (~250
-- bytes, a table of the same fields took ~1 KB): 100k readers hold 100k.
local bit = require "bit"
local ffi = require "ffi"

local band, bor, rshift, lshift, tobit = bit.band, bit.bor, bit.rshift, bit.lshift, bit.tobit
local abs = math.abs

local M = {}

-- RFC 3550 A.1: a forward jump up to MAX_DROPOUT is loss; a step back up to
-- MAX_MISORDER is a late packet; anything else is a restart or garbage.
local MAX_DROPOUT, MAX_MISORDER, SEQ_MOD = 3000, 100, 65536

-- header(p, len) -> { version, padding, marker, pt, seq, ts, ssrc, cc,
-- offset (payload start), payload_len } or nil, err. RFC 3550 5.1.
function M.header(p, len)
  if len < 12 then return nil, "short" end
  local b0 = p[0]
  if rshift(b0, 6) ~= 2 then return nil, "version" end
  local cc = band(b0, 0x0f)
  local off = 12 + cc * 4
  if band(b0, 0x10) ~= 0 then
    -- 5.3.1: extension header: 16-bit profile data, 16-bit length in words
    if len < off + 4 then return nil, "short" end
    off = off + 4 + (p[off + 2] * 256 + p[off + 3]) * 4
  end
  local plen = len - off
  if band(b0, 0x20) ~= 0 then
    -- 5.1: the last octet counts padding octets, itself included
    local pad = p[len - 1]
    if pad == 0 then return nil, "padding" end
    plen = plen - pad
  end
  if plen < 0 then return nil, "short" end
  return {
    version = 2, padding = band(b0, 0x20) ~= 0, marker = band(p[1], 0x80) ~= 0,
    pt = band(p[1], 0x7f), seq = p[2] * 256 + p[3],
    ts = ((p[4] * 256 + p[5]) * 256 + p[6]) * 256 + p[7],
    ssrc = ((p[8] * 256 + p[9]) * 256 + p[10]) * 256 + p[11],
    cc = cc, offset = off, payload_len = plen,
  }
end

local function h264_key(p, len)
  local nal = band(p[0], 0x1f)
  if nal == 5 then return true end
  if nal == 24 then
    -- RFC 6184 5.7.1 STAP-A: [16-bit size][NAL] ... after the 1-byte header
    local off = 1
    while off + 2 < len do
      local size = p[off] * 256 + p[off + 1]
      off = off + 2
      if size == 0 or off + size > len then return false end
      if band(p[off], 0x1f) == 5 then return true end
      off = off + size
    end
    return false
  end
  if nal == 28 or nal == 29 then
    -- 5.8 FU-A/FU-B: the FU header's S bit marks the first fragment
    return len >= 2 and band(p[1], 0x80) ~= 0 and band(p[1], 0x1f) == 5
  end
  return false
end

local function irap(t) return t >= 16 and t <= 23 end -- H.265 7.4.2.2

local function h265_key(p, len)
  if len < 2 then return false end
  local t = band(rshift(p[0], 1), 0x3f)
  if t < 48 then return irap(t) end
  if t == 48 then
    -- RFC 7798 4.4.2 AP: [16-bit size][NAL] ... after the 2-byte header
    -- (assumes no DONL fields: sprop-max-don-diff is 0 for almost all senders)
    local off = 2
    while off + 2 < len do
      local size = p[off] * 256 + p[off + 1]
      off = off + 2
      if size < 2 or off + size > len then return false end
      if irap(band(rshift(p[off], 1), 0x3f)) then return true end
      off = off + size
    end
    return false
  end
  if t == 49 then
    -- 4.4.3 FU: the FU header (third byte) has S and the fragment's type
    return len >= 3 and band(p[2], 0x80) ~= 0 and irap(band(p[2], 0x3f))
  end
  return false
end

-- keyframe(codec, payload, len) -> true when the payload starts (or is) an
-- H.264 IDR picture or an H.265 IRAP picture.
function M.keyframe(codec, p, len)
  if len < 1 then return false end
  if codec == "h264" then return h264_key(p, len) end
  if codec == "h265" then return h265_key(p, len) end
  return false
end

-- Counts are doubles (exact to 2^53, and read back as plain Lua numbers);
-- lost_before and received_before are loss and packets carried over
-- restarts; seen is a bitmap of the last SEEN_WINDOW sequence numbers; `reported` is what the caller
-- has already counted out (it reports deltas); channel/rtcp_channel are the
-- interleaved channels (RFC 2326 10.12) a caller carries the stream on.
ffi.cdef [[
struct surge_rtp_counts {
  double received, bytes, lost, reordered, duplicates, keyframes, bad;
};
struct surge_rtp_track {
  double clock_rate, units_per_ns, pt;
  double base_seq, max_seq, cycles, bad_seq, expect_seq, first_gap;
  double received, received_before, lost_before, reordered, duplicates, restarts, bad, bytes;
  double keyframes, last_key_ts, jitter, last_arrival, last_ts;
  struct surge_rtp_counts reported;
  int32_t seen[4];
  int16_t channel, rtcp_channel;
  uint8_t codec_id;
  bool started;
};
]]
local CODEC_ID = { h264 = 1, h265 = 2 }
local CODEC_NAME = { "h264", "h265" }
local track_t = ffi.metatype("struct surge_rtp_track", {
  __index = function(tr, k)
    if k == "codec" then return CODEC_NAME[tr.codec_id] end
  end,
})

-- track(codec, clock_rate, pt) -> the receive state of one RTP stream
-- (codec "h264", "h265" or other/nil: no keyframe detection).
function M.track(codec, clock_rate, pt)
  clock_rate = clock_rate or 90000
  return track_t {
    clock_rate = clock_rate, units_per_ns = clock_rate / 1e9, pt = pt or -1,
    bad_seq = -1, expect_seq = -1, last_key_ts = -1, channel = -1, rtcp_channel = -1,
    codec_id = CODEC_ID[codec] or 0,
  }
end

-- Which of the SEEN_WINDOW numbers up to max_seq have arrived: a late
-- packet (at most MAX_MISORDER behind) is told from a repeat of one, which
-- would otherwise count as received twice and make loss negative (A.3).
local SEEN_WINDOW = 128

local function seen_bit(tr, seq)
  local i = band(seq, SEEN_WINDOW - 1)
  return rshift(i, 5), lshift(1, band(i, 31))
end

local function mark(tr, seq)
  local w, b = seen_bit(tr, seq)
  tr.seen[w] = bor(tr.seen[w], b)
end

local function marked(tr, seq)
  local w, b = seen_bit(tr, seq)
  return band(tr.seen[w], b) ~= 0
end

local function unmark(tr, seq)
  local w, b = seen_bit(tr, seq)
  tr.seen[w] = band(tr.seen[w], bit.bnot(b))
end

local function init_seq(tr, seq)
  tr.base_seq, tr.max_seq, tr.cycles, tr.bad_seq = seq, seq, 0, -1
  tr.received_before = tr.received_before + tr.received
  tr.received = 0
  tr.seen[0], tr.seen[1], tr.seen[2], tr.seen[3] = 0, 0, 0, 0
  mark(tr, seq)
end

-- expect(tr, seq): the sequence number the stream's first packet carries,
-- as the server announced it (RTSP's RTP-Info, RFC 2326 12.33). How far
-- past it the first packet received is becomes tr.first_gap: packets lost
-- before it where the announcement is exact (surge serve's), which
-- counting from the first received (A.1) cannot see. Kept apart from
-- lost(): GStreamer's live media announces a number a packet or two before
-- the first it sends a new client. A first packet behind the announced
-- number, or further ahead than a dropout, leaves first_gap 0.
function M.expect(tr, seq)
  if not tr.started and type(seq) == "number" and seq >= 0 and seq < SEQ_MOD and seq % 1 == 0 then
    tr.expect_seq = seq
  end
end

-- lost(tr) -> packets expected but not received (RFC 3550 A.3), which a
-- late packet reduces again: each loss is counted once however it arrives.
function M.lost(tr)
  if not tr.started then return tr.lost_before end
  local expected = tr.cycles + tr.max_seq - tr.base_seq + 1
  return tr.lost_before + expected - tr.received
end

-- received(tr) -> packets counted, across restarts (tr.received restarts
-- with the sequence, A.1).
function M.received(tr)
  return tr.received_before + tr.received
end

-- packet(tr, p, len, arrival) feeds one RTP packet; arrival is the receive
-- time in the stream's clock units. Returns 0 for a packet counted, 1 when
-- it starts a keyframe not seen before, or -1 when it is not usable
-- (malformed, or a sequence jump awaiting confirmation; tr.bad counts).
function M.packet(tr, p, len, arrival)
  if len < 12 or rshift(p[0], 6) ~= 2 then
    tr.bad = tr.bad + 1
    return -1
  end
  local seq = p[2] * 256 + p[3]
  local ts = ((p[4] * 256 + p[5]) * 256 + p[6]) * 256 + p[7]
  if not tr.started then
    tr.started = true
    init_seq(tr, seq)
    local ahead = (seq - tr.expect_seq) % SEQ_MOD
    if tr.expect_seq >= 0 and ahead < MAX_DROPOUT then tr.first_gap = ahead end
    tr.last_arrival, tr.last_ts = arrival, ts
  else
    local udelta = (seq - tr.max_seq) % SEQ_MOD
    if udelta == 0 then
      tr.duplicates = tr.duplicates + 1
      return -1
    elseif udelta < MAX_DROPOUT then
      if seq < tr.max_seq then tr.cycles = tr.cycles + SEQ_MOD end
      -- the numbers skipped have not arrived (yet): their bits, last set
      -- SEEN_WINDOW numbers ago, are cleared
      if udelta > SEEN_WINDOW then
        tr.seen[0], tr.seen[1], tr.seen[2], tr.seen[3] = 0, 0, 0, 0
      else
        for k = 1, udelta - 1 do unmark(tr, tr.max_seq + k) end
      end
      mark(tr, seq)
      tr.max_seq = seq
    elseif udelta <= SEQ_MOD - MAX_MISORDER then
      -- A.1: a big jump; two in a row mean the sender restarted
      if seq ~= tr.bad_seq then
        tr.bad_seq = (seq + 1) % SEQ_MOD
        tr.bad = tr.bad + 1
        return -1
      end
      tr.lost_before = M.lost(tr)
      init_seq(tr, seq)
      tr.restarts = tr.restarts + 1
    else
      -- behind the highest: late, or a repeat of a packet already counted
      if marked(tr, seq) then
        tr.duplicates = tr.duplicates + 1
        return -1
      end
      mark(tr, seq)
      tr.reordered = tr.reordered + 1
    end
    -- RFC 3550 A.8: D = (Rj - Ri) - (Sj - Si); J += (|D| - J) / 16.
    -- The timestamp difference is taken as signed 32-bit (wraparound).
    local d = (arrival - tr.last_arrival) - tobit(ts - tr.last_ts)
    tr.jitter = tr.jitter + (abs(d) - tr.jitter) / 16
    tr.last_arrival, tr.last_ts = arrival, ts
  end
  tr.received = tr.received + 1
  tr.bytes = tr.bytes + len

  local b0 = p[0]
  local off = 12 + band(b0, 0x0f) * 4
  if band(b0, 0x10) ~= 0 then
    if len < off + 4 then return 0 end
    off = off + 4 + (p[off + 2] * 256 + p[off + 3]) * 4
  end
  local plen = len - off
  if band(b0, 0x20) ~= 0 then plen = plen - p[len - 1] end
  local codec = tr.codec_id
  if plen > 0 and codec ~= 0 and ts ~= tr.last_key_ts and
     (codec == 1 and h264_key(p + off, plen) or codec == 2 and h265_key(p + off, plen)) then
    tr.last_key_ts = ts
    tr.keyframes = tr.keyframes + 1
    return 1
  end
  return 0
end

return M
