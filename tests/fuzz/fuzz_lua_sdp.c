/* surge.rtsp.sdp on hostile SDP: parse(text, base) returns a description or
 * nil, err, never raises, with at most MAX_MEDIA media, each with a URL.
 * The first line of the input is also the base URL for resolve(). */
#include "lua_driver.h"

static const char chunk[] =
	"local guard = ...\n"
	"local sdp = require 'surge.rtsp.sdp'\n"
	"local BASES = { 'rtsp://cam.example:554/live/', 'rtsp://h/s?x=1#f', 'rtsp://h', 'x' }\n"
	"return function(s, p, len)\n"
	"  local base = BASES[len % #BASES + 1]\n"
	"  local d, err = sdp.parse(s, base)\n"
	"  if not d then\n"
	"    assert(type(err) == 'string')\n"
	"  else\n"
	"    assert(#d.media <= sdp.MAX_MEDIA and type(d.url) == 'string')\n"
	"    for _, m in ipairs(d.media) do\n"
	"      assert(type(m.url) == 'string' and type(m.type) == 'string')\n"
	"      assert(m.clock_rate == nil or type(m.clock_rate) == 'number')\n"
	"    end\n"
	"  end\n"
	"  local first, rest = s:match('^([^\\n]*)\\n?(.*)$')\n"
	"  assert(type(sdp.resolve(first, rest)) == 'string')\n"
	"  assert(sdp.base(first, { ['content-base'] = rest }) == rest)\n"
	"end\n";

FUZZ_LUA_HARNESS("fuzz_lua_sdp", chunk)
