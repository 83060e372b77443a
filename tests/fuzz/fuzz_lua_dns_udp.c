/* dns.udp's answer walk on hostile datagrams, through the LuaJIT driver (the
 * datagram ends against a guard page): dns.parse with no length prefix
 * (pre = 0), name_end from every offset, and the protocol table's response()
 * for a query it just made (the input's first two bytes overwritten with that
 * query's ID) and expired() for another, so a late answer is unmatched. */
#include "lua_driver.h"

static const char chunk[] =
	"local guard = ...\n"
	"local ffi = require 'ffi'\n"
	"local dns = require 'surge.proto.dns'\n"
	"local P = ffi.typeof('uint8_t *')\n"
	"local qs = '\\7example\\3com\\0\\0\\1\\0\\1'\n"
	"local q = ffi.new('uint8_t[?]', #qs)\n"
	"ffi.copy(q, qs, #qs)\n"
	"local ph = dns.udp { queries = { 'example.com A', 'www.Example.org AAAA' },\n"
	"                     per_qtype = true, pipeline = 4 }\n"
	"local ctx = { conn_id = 1, seq = 0, now_ns = 0 }\n"
	"local req = ffi.new('uint8_t[512]')\n"
	"local ERR = { malformed = true, ['not a response'] = true,\n"
	"              ['question mismatch'] = true }\n"
	"return function(s, p, len)\n"
	"  p = ffi.cast(P, p)\n"
	"  local err, rcode, an, tc = dns.parse(p, len, q, #qs, 0)\n"
	"  if err then assert(ERR[err], err)\n"
	"  else assert(rcode >= 0 and rcode < 4096 and an >= 0 and type(tc) == 'boolean') end\n"
	"  for off = 0, len - 1 do\n"
	"    local e = dns.name_end(p, off, len, 0)\n"
	"    assert(e == -1 or (e > off and e <= len), 'name_end out of range')\n"
	"  end\n"
	"  ctx.seq = ctx.seq == 0 and 1 or 0\n"
	"  local n, id = ph.request(ctx, req, 512)\n"
	"  assert(n and id, 'no query')\n"
	"  local seq = ctx.seq\n"
	"  ctx.seq = 2 -- not a new socket: the first request's slot stays\n"
	"  local n2, lost = ph.request(ctx, req, 512)\n"
	"  ctx.seq = seq\n"
	"  ph.expired(ctx, lost)\n"
	"  if len >= 2 then p[0], p[1] = bit.rshift(id, 8), bit.band(id, 255) end\n"
	"  local rid, rerr = ph.response(ctx, p, len)\n"
	"  assert(rerr == nil or type(rerr) == 'string')\n"
	"  if len >= 2 then assert(rid == id, 'the answer to our query was not matched') end\n"
	"  if len >= 2 then\n"
	"    p[0], p[1] = bit.rshift(lost, 8), bit.band(lost, 255)\n"
	"    local lid, lerr = ph.response(ctx, p, len)\n"
	"    assert((lid == nil or lid == lost) and lerr == 'unmatched', 'an expired query was answered')\n"
	"  end\n"
	"end\n";

FUZZ_LUA_HARNESS("fuzz_lua_dns_udp", chunk)
