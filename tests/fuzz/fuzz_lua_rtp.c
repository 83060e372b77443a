/* surge.rtsp.rtp on hostile packets: the input is packets, each a 2-byte
 * big-endian length and its bytes (as RTP rides interleaved RTSP, RFC 2326
 * 10.12); the first byte picks the codec and, from 128 up, an announced
 * first seq (RTP-Info) up to 63 behind the first packet's. Each packet is placed against the
 * guard page alone, then rtp.header must give nil, err or a payload inside
 * the packet, and rtp.packet must count it, with loss never negative. */
#include "lua_driver.h"

static const char chunk[] =
	"local guard = ...\n"
	"local ffi = require 'ffi'\n"
	"local rtp = require 'surge.rtsp.rtp'\n"
	"local P = ffi.typeof('const uint8_t *')\n"
	"local CODECS = { 'h264', 'h265', 'other' }\n"
	"return function(s, p, len)\n"
	"  if len < 1 then return end\n"
	"  local tr = rtp.track(CODECS[s:byte(1) % 3 + 1], 90000, 96)\n"
	"  if s:byte(1) >= 128 and len >= 7 then\n"
	"    rtp.expect(tr, (s:byte(6) * 256 + s:byte(7) - s:byte(1) % 64) % 65536)\n"
	"  end\n"
	"  local i, arrival = 2, 0\n"
	"  while i + 1 <= len do\n"
	"    local n = s:byte(i) * 256 + s:byte(i + 1)\n"
	"    local pkt = s:sub(i + 2, i + 1 + n)\n"
	"    i = i + 2 + n\n"
	"    local q, plen = guard(pkt)\n"
	"    q = ffi.cast(P, q)\n"
	"    local h, err = rtp.header(q, plen)\n"
	"    if h then\n"
	"      assert(h.offset >= 12 and h.payload_len >= 0 and h.offset + h.payload_len <= plen)\n"
	"      rtp.keyframe(tr.codec, q + h.offset, h.payload_len)\n"
	"    else\n"
	"      assert(type(err) == 'string')\n"
	"    end\n"
	"    arrival = arrival + 3000\n"
	"    local r = rtp.packet(tr, q, plen, arrival)\n"
	"    assert(r == -1 or r == 0 or r == 1)\n"
	"    assert(tr.jitter >= 0 and tr.jitter == tr.jitter)\n"
	"  end\n"
	"  assert(rtp.lost(tr) >= -tr.duplicates - tr.reordered, 'lost below what late packets explain')\n"
	"end\n";

FUZZ_LUA_HARNESS("fuzz_lua_rtp", chunk)
