/* surge.rtsp.auth on hostile WWW-Authenticate values (one per line):
 * parse_challenge returns a table or nil, err; choose picks one or says
 * none is supported; an answerable challenge yields an Authorization value
 * for the reader's next request. None of it may raise. */
#include "lua_driver.h"

static const char chunk[] =
	"local guard = ...\n"
	"local auth = require 'surge.rtsp.auth'\n"
	"return function(s, p, len)\n"
	"  local values = {}\n"
	"  for line in s:gmatch('[^\\n]+') do values[#values + 1] = line end\n"
	"  for _, v in ipairs(values) do\n"
	"    local c, err = auth.parse_challenge(v)\n"
	"    assert(c or type(err) == 'string')\n"
	"    if c then assert(type(c.scheme) == 'string' and c.scheme == c.scheme:lower()) end\n"
	"  end\n"
	"  local c, err = auth.choose(values)\n"
	"  if not c then assert(type(err) == 'string') return end\n"
	"  local state = {}\n"
	"  for _ = 1, 2 do\n"
	"    local h = auth.authorization(c, 'user', 'pa:ss\"w', 'DESCRIBE',\n"
	"                                 'rtsp://cam/live', state, '0a4f113b')\n"
	"    assert(type(h) == 'string' and (h:find('^Basic ') or h:find('^Digest ')))\n"
	"  end\n"
	"end\n";

FUZZ_LUA_HARNESS("fuzz_lua_auth", chunk)
