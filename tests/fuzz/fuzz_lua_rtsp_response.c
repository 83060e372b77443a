/* surge.rtsp.response on hostile RTSP heads: parse_head returns a message
 * or nil, err, never raises; what it returns is consistent (a 3-digit
 * status or a method, lowercase header names, a Content-Length within
 * MAX_BODY); the Session, Public and RTP-Info headers (and the raw input
 * as each) parse too, RTP-Info to a bounded list of 16-bit seqs. */
#include "lua_driver.h"

static const char chunk[] =
	"local guard = ...\n"
	"local response = require 'surge.rtsp.response'\n"
	"return function(s, p, len)\n"
	"  local msg, err = response.parse_head(s)\n"
	"  if not msg then\n"
	"    assert(type(err) == 'string')\n"
	"  else\n"
	"    -- RFC 2326 7.1.1: any 3 digits (extension-code), 000 among them\n"
	"    assert((msg.status and msg.status >= 0 and msg.status <= 999) or msg.method)\n"
	"    assert(msg.content_length >= 0 and msg.content_length <= response.MAX_BODY)\n"
	"    assert(msg.content_length == math.floor(msg.content_length))\n"
	"    for k, v in pairs(msg.headers) do\n"
	"      assert(k == k:lower() and type(v) == 'string')\n"
	"    end\n"
	"    local id, timeout = response.session(msg.headers.session)\n"
	"    assert(id == nil or type(id) == 'string')\n"
	"    assert(timeout == nil or timeout >= 0)\n"
	"    response.methods(msg.headers.public)\n"
	"    response.rtp_info(msg.headers['rtp-info'])\n"
	"  end\n"
	"  response.session(s)\n"
	"  response.methods(s)\n"
	"  local info = response.rtp_info(s)\n"
	"  assert(#info <= response.MAX_HEADERS)\n"
	"  for _, e in ipairs(info) do\n"
	"    assert(type(e.url) == 'string')\n"
	"    assert(e.seq == nil or (e.seq >= 0 and e.seq < 65536 and e.seq % 1 == 0))\n"
	"  end\n"
	"end\n";

FUZZ_LUA_HARNESS("fuzz_lua_rtsp_response", chunk)
