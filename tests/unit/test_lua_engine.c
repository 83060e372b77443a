/* lua_engine: the per-answer path between C and a protocol module allocates
 * nothing in Lua (SURGE_REQBUF_SIZE-bounded requests, answers by pointer),
 * measured with the collector stopped over many request/answer rounds; and
 * the worker's once-a-second collector step frees garbage by itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lua_engine.h"
#include "surge/ffi.h"
#include "surge/hist.h"
#include "tap.h"
#include "worker.h"

#define ROUNDS 20000

static const char *write_file(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/surge-test-lua-XXXXXX.lua");
	int fd = mkstemps(path, 4);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return NULL;
	close(fd);
	return path;
}

/* Loads the scenario text into *opt (zeroed first) and *le; the file goes
 * once read. Returns lua_engine_load's result, -1 if it could not be written. */
static int load_text(const char *text, struct options *opt, struct lua_engine **le, char *err,
		     size_t errlen)
{
	const char *scn = write_file(text);
	int rc;

	memset(opt, 0, sizeof(*opt));
	*le = NULL;
	if (!scn)
		return -1;
	rc = lua_engine_load(scn, NULL, 0, opt, err, errlen, le);
	unlink(scn);
	return rc;
}

/* One round: an answer (and for DNS the request it answers) through the
 * engine. Returns 1 answered, 0 refused (why says why), -1 engine error. */
typedef int round_fn(struct lua_engine *le, struct worker *w, const struct options *opt, int r,
		     char *why, size_t whylen);

static int dns_round(struct lua_engine *le, struct worker *w, const struct options *opt, int r,
		     char *why, size_t whylen)
{
	uint8_t ans[512];
	const uint8_t *q;
	size_t qn;
	double key;
	bool has_key, ends;

	w->ctxs[0].seq = (uint64_t)r;
	if (lua_engine_request(le, 0, w->reqbuf, SURGE_REQBUF_SIZE, &q, &qn, &key, why, whylen) < 0 ||
	    qn < 14 || qn > sizeof(ans))
		return -1;
	/* The answer: the query back with QR set and no records, framed as it
	 * arrives, after its two-byte TCP length (RFC 1035 4.2.2). */
	memcpy(ans, q, qn);
	ans[4] |= 0x80;
	if (lua_engine_response(le, 0, ans, qn, &key, &has_key, &ends, why, whylen) < 0)
		return -1;
	return !why[0];
}

/* dns.udp: the datagram is the message (no prefix); every other round a
 * second query is lost, and lua_engine_expired frees its ID, then its late
 * answer must come back unmatched. */
static int dns_udp_round(struct lua_engine *le, struct worker *w, const struct options *opt, int r,
			 char *why, size_t whylen)
{
	uint8_t ans[512];
	const uint8_t *q;
	size_t qn;
	double key, lost;
	bool has_key, ends;

	w->ctxs[0].seq = (uint64_t)r + 1;
	if (lua_engine_request(le, 0, w->reqbuf, SURGE_REQBUF_SIZE, &q, &qn, &key, why, whylen) < 0 ||
	    qn < 12 || qn > sizeof(ans))
		return -1;
	memcpy(ans, q, qn);
	ans[2] |= 0x80;
	size_t an = qn;
	if (r % 2) {
		if (lua_engine_request(le, 0, w->reqbuf, SURGE_REQBUF_SIZE, &q, &qn, &lost, why,
				       whylen) < 0 ||
		    lua_engine_expired(le, 0, lost) < 0)
			return -1;
		uint8_t late[512];
		memcpy(late, q, qn);
		late[2] |= 0x80;
		if (lua_engine_response(le, 0, late, qn, &lost, &has_key, &ends, why, whylen) < 0 ||
		    strcmp(why, "unmatched") != 0)
			return -1;
	}
	if (lua_engine_response(le, 0, ans, an, &key, &has_key, &ends, why, whylen) < 0)
		return -1;
	return !why[0];
}

/* Echo with verify = true: the answer checked against the payload in Lua. */
static int echo_round(struct lua_engine *le, struct worker *w, const struct options *opt, int r,
		      char *why, size_t whylen)
{
	double key;
	bool has_key, ends;

	if (lua_engine_response(le, 0, opt->const_request, opt->const_request_len, &key, &has_key,
				&ends, why, whylen) < 0)
		return -1;
	return !why[0];
}

/* Bytes allocated per round after warm-up (the JIT compiles the hot paths
 * in the first rounds), with the collector stopped. */
static double per_answer(round_fn *round, struct lua_engine *le, struct worker *w,
			 const struct options *opt, int *answered)
{
	char why[64];
	size_t before = 0;

	*answered = 0;
	for (int r = 0; r < 2 * ROUNDS; r++) {
		if (r == ROUNDS)
			before = lua_engine_heap_bytes(le, true);
		int rc = round(le, w, opt, r, why, sizeof(why));
		if (rc < 0)
			return -1;
		if (r >= ROUNDS && rc)
			(*answered)++;
		else if (!rc && r == ROUNDS)
			diag("answer refused: %s", why);
	}
	return (double)(lua_engine_heap_bytes(le, false) - before) / ROUNDS;
}

int main(void)
{
	char err[1024];
	struct options opt;
	struct lua_engine *le = NULL;
	const char *scn = write_file(
		"local dns = require 'surge.proto.dns'\n"
		"return { target = 'tcp://127.0.0.1:53', connections = 1, duration = '1s',\n"
		"  protocol = dns.tcp { queries = 'scenarios/data/queries.txt', pipeline = 1 } }\n");

	/* Modules from this checkout (prove runs from its top). */
	setenv("SURGE_LUA_PATH", "lua/?.lua;lua/?/init.lua", 0);
	memset(&opt, 0, sizeof(opt));
	ok(scn && lua_engine_load(scn, NULL, 0, &opt, err, sizeof(err), &le) == 0, "DNS scenario loads");
	if (!le) {
		diag("%s", err);
		return tap_done();
	}
	struct worker w;
	memset(&w, 0, sizeof(w));
	w.opt = &opt;
	w.count = 1;
	w.ctxs = calloc(1, sizeof(*w.ctxs));
	w.reqbuf = malloc(SURGE_REQBUF_SIZE);
	ok(stats_init(&w.stats) == 0 && lua_engine_bind_worker(le, &w, err, sizeof(err)) == 0,
	   "bound to a worker");
	int answered;
	double bytes = per_answer(dns_round, le, &w, &opt, &answered);
	is_int(answered, ROUNDS, "every answer parsed as one for its query");
	ok(bytes >= 0 && bytes < 1, "DNS: %.2f bytes allocated per answer (goal 0)", bytes);
	lua_engine_free(le);
	options_free(&opt);

	le = NULL;
	unlink(scn);
	scn = write_file("local dns = require 'surge.proto.dns'\n"
			 "return { target = 'udp://127.0.0.1:53', connections = 1, duration = '1s',\n"
			 "  protocol = dns.udp { queries = 'scenarios/data/queries.txt', pipeline = 2 } }\n");
	memset(&opt, 0, sizeof(opt));
	ok(scn && lua_engine_load(scn, NULL, 0, &opt, err, sizeof(err), &le) == 0 &&
		   lua_engine_bind_worker(le, &w, err, sizeof(err)) == 0 &&
		   opt.transport == TRANSPORT_UDP && opt.match == MATCH_KEY && opt.max_message == 1232,
	   "dns.udp scenario loads: transport udp, matched by key, answers up to its EDNS size");
	answered = 0;
	bytes = le ? per_answer(dns_udp_round, le, &w, &opt, &answered) : -1;
	is_int(answered, ROUNDS, "UDP: every answer matched, every expired query's late answer unmatched");
	ok(bytes >= 0 && bytes < 1, "dns.udp: %.2f bytes allocated per answer and expiry (goal 0)", bytes);
	lua_engine_free(le);
	options_free(&opt);

	le = NULL;
	unlink(scn);
	scn = write_file("local echo = require 'surge.proto.echo'\n"
			 "return { target = 'tcp://127.0.0.1:7', connections = 1, duration = '1s',\n"
			 "  protocol = echo.new { size = 64, verify = true } }\n");
	memset(&opt, 0, sizeof(opt));
	ok(scn && lua_engine_load(scn, NULL, 0, &opt, err, sizeof(err), &le) == 0 &&
	   lua_engine_bind_worker(le, &w, err, sizeof(err)) == 0 && opt.const_request,
	   "echo (verify) scenario loads and binds");
	answered = 0;
	bytes = le ? per_answer(echo_round, le, &w, &opt, &answered) : -1;
	is_int(answered, ROUNDS, "every echo answer verified");
	ok(bytes >= 0 && bytes < 1, "echo verify: %.2f bytes allocated per answer (goal 0)", bytes);
	lua_engine_free(le);
	options_free(&opt);
	unlink(scn);

	/* The target every report shows: no password, no user given alone
	 * (often a token), schemeless too; an '@' in a path is the path's. */
	static const char *const shown[][2] = {
		{ "tok3n@127.0.0.1:7", "127.0.0.1:7" },
		{ "tcp://alice:s3cret@127.0.0.1:7", "tcp://alice@127.0.0.1:7" },
		{ "http://127.0.0.1:8080/users/me@example.test", "http://127.0.0.1:8080/users/me@example.test" },
		{ "http://u:s3cret@127.0.0.1/a@b", "http://u@127.0.0.1/a@b" },
	};
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "return { target = '%s', connections = 1, duration = '1s',\n"
			 "  protocol = require('surge.proto.echo').new {} }\n", shown[i][0]);
		int rc = load_text(text, &opt, &le, err, sizeof(err)); /* before ok()'s arguments */
		ok(rc == 0 && opt.target && strcmp(opt.target, shown[i][1]) == 0,
		   "%s is shown as %s (%s)", shown[i][0], shown[i][1], opt.target ? opt.target : err);
		lua_engine_free(le);
		options_free(&opt);
	}

	/* Two HTTP targets: a request for each, in the targets' order. */
	static const char h1[] = "GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
	static const char h2[] = "GET /x HTTP/1.1\r\nHost: a.test:81\r\n\r\n";
	ok(load_text("local http = require 'surge.proto.http'\n"
		     "return { target = { 'http://127.0.0.1:8080', 'http://a.test:81' },\n"
		     "  connections = 1, duration = '1s', protocol = http.client { path = '/x' } }\n",
		     &opt, &le, err, sizeof(err)) == 0 &&
		   opt.ntargets == 2 && opt.nconst_by_target == 2 &&
		   opt.const_by_target[0].len == strlen(h1) &&
		   memcmp(opt.const_by_target[0].p, h1, strlen(h1)) == 0 &&
		   opt.const_by_target[1].len == strlen(h2) &&
		   memcmp(opt.const_by_target[1].p, h2, strlen(h2)) == 0,
	   "two HTTP targets: each one's request, with its Host, in order");
	lua_engine_free(le);
	options_free(&opt);

	/* The once-a-second collector step collects by itself: with the
	 * allocation-paced collector stopped, answers leave ~1 MB of garbage
	 * that only the ticks can free. */
	le = NULL;
	scn = write_file("local last -- keeps the JIT from sinking the tables\n"
			 "return { target = 'tcp://127.0.0.1:7', connections = 1, duration = '1s',\n"
			 "  protocol = { request = 'x', framing = { kind = 'fixed', size = 1 },\n"
			 "    response = function(ctx, p, len)\n"
			 "      local t = {}\n"
			 "      for i = 1, 100 do t[i] = { i } end\n"
			 "      last = t\n"
			 "    end } }\n");
	memset(&opt, 0, sizeof(opt));
	ok(scn && lua_engine_load(scn, NULL, 0, &opt, err, sizeof(err), &le) == 0 &&
	   lua_engine_bind_worker(le, &w, err, sizeof(err)) == 0,
	   "a protocol whose answers make garbage loads and binds");
	if (le) {
		char why[64];
		double key;
		bool has_key, ends;
		size_t start = lua_engine_heap_bytes(le, true);
		for (int r = 0; r < 200; r++)
			lua_engine_response(le, 0, (const uint8_t *)"x", 1, &key, &has_key, &ends, why,
					    sizeof(why));
		size_t left = lua_engine_heap_bytes(le, false);
		for (int second = 0; second < 60; second++)
			lua_engine_gc_tick(le);
		size_t after = lua_engine_heap_bytes(le, false);
		ok(left > start + 512 * 1024 && after + 512 * 1024 < left,
		   "60 collector ticks free the answers' garbage: Lua heap %zu KB, %zu KB after the "
		   "answers, %zu KB after the ticks", start / 1024, left / 1024, after / 1024);
	}
	lua_engine_free(le);
	options_free(&opt);
	unlink(scn);

	/* surge.metric takes a duration: inf, nan or a negative one (a clock
	 * rate of 0 made rtsp.jitter inf, which the FFI turned into INT64_MIN
	 * and the histogram into 0 ns) is the script's error at its line, and
	 * nothing is recorded; C refuses a negative one as a script error. */
	le = NULL;
	scn = write_file("local surge = require 'surge'\n"
			 "local h = surge.histogram('t.handle')\n"
			 "local V = { 5e6, 1/0, 0/0, -1, 'x' }\n"
			 "return { target = 'tcp://127.0.0.1:7', connections = 1, duration = '1s',\n"
			 "  protocol = { request = 'x', framing = { kind = 'fixed', size = 1 },\n"
			 "    response = function(ctx, p, len)\n"
			 "      local v = V[tonumber(ctx.seq)]\n"
			 "      if ctx.seq == 6 then h:record(-2) else surge.metric('t.metric', v) end\n"
			 "    end } }\n");
	memset(&opt, 0, sizeof(opt));
	ok(scn && lua_engine_load(scn, NULL, 0, &opt, err, sizeof(err), &le) == 0 &&
	   lua_engine_bind_worker(le, &w, err, sizeof(err)) == 0,
	   "a protocol recording surge.metric values loads and binds");
	if (le) {
		static const char *const what[] = { "", "5 ms", "inf", "nan", "-1", "a string",
						     "handle -2" };
		char why[64];
		double key;
		bool has_key, ends;
		for (int r = 1; r <= 6; r++) {
			w.ctxs[0].seq = (uint64_t)r;
			int rc = lua_engine_response(le, 0, (const uint8_t *)"x", 1, &key, &has_key,
						     &ends, why, sizeof(why));
			const char *e = rc < 0 ? lua_engine_last_error(le) : "";
			if (r == 1)
				ok(rc == 0, "surge.metric(name, %s): recorded", what[r]);
			else
				ok(rc < 0 && strstr(e, ":8:") &&
					   strstr(e, "takes a duration in ns from 0"),
				   "%s: a script error at the caller's line: %.*s", what[r],
				   (int)strcspn(e, "\n"), e);
		}
		int id = stats_hist_id(&w.stats, "t.metric");
		ok(id >= 0 && hist_total(w.stats.nhist[id].h) == 1 &&
			   hist_min(w.stats.nhist[id].h) > 4000000,
		   "only the 5 ms value is in the histogram, no 0 ns sample");
		int64_t before = w.stats.error[ERR_SCRIPT];
		surge_metric(&w, id, -5);
		ok(w.stats.error[ERR_SCRIPT] == before + 1 && hist_total(w.stats.nhist[id].h) == 1,
		   "C's surge_metric: a negative duration is a script error, not a 0 ns sample");
	}
	lua_engine_free(le);
	options_free(&opt);
	unlink(scn);

	/* Counts are exact integers: 2^62 added twice saturates at INT64_MAX
	 * (it wrapped negative, and signed overflow is UB: ASan killed the
	 * worker); a count the counter cannot hold exactly (0.5, nan, inf,
	 * 2^63, a string) is a script error at the caller's line, not a silent
	 * 0 or garbage added. */
	le = NULL;
	scn = write_file("local surge = require 'surge'\n"
			 "local c = surge.counter('t.handle')\n"
			 "local V = { 2^62, 2^62, -2^62, 0.5, 0/0, 1/0, 2^63, 'x' }\n"
			 "return { target = 'tcp://127.0.0.1:7', connections = 1, duration = '1s',\n"
			 "  protocol = { request = 'x', framing = { kind = 'fixed', size = 1 },\n"
			 "    response = function(ctx, p, len)\n"
			 "      local v = V[tonumber(ctx.seq)]\n"
			 "      if ctx.seq == 9 then c:add(0.5) else surge.count('t.count', v) end\n"
			 "    end } }\n");
	memset(&opt, 0, sizeof(opt));
	ok(scn && lua_engine_load(scn, NULL, 0, &opt, err, sizeof(err), &le) == 0 &&
	   lua_engine_bind_worker(le, &w, err, sizeof(err)) == 0,
	   "a protocol counting with surge.count values loads and binds");
	if (le) {
		static const char *const what[] = { "", "2^62", "2^62 again", "-2^62", "0.5",
						     "nan", "inf", "2^63", "a string",
						     "handle 0.5" };
		char why[64];
		double key;
		bool has_key, ends;
		int64_t seen[4] = { 0 };
		for (int r = 1; r <= 9; r++) {
			w.ctxs[0].seq = (uint64_t)r;
			int rc = lua_engine_response(le, 0, (const uint8_t *)"x", 1, &key, &has_key,
						     &ends, why, sizeof(why));
			const char *e = rc < 0 ? lua_engine_last_error(le) : "";
			int id = stats_counter_id(&w.stats, "t.count");
			if (r <= 3) {
				ok(rc == 0, "surge.count(name, %s): counted", what[r]);
				seen[r] = id >= 0 ? w.stats.ncounter[id].value : -1;
			} else {
				ok(rc < 0 && strstr(e, ":8:") && strstr(e, "adds an integer"),
				   "%s: a script error at the caller's line: %.*s", what[r],
				   (int)strcspn(e, "\n"), e);
			}
		}
		ok(seen[1] == (int64_t)1 << 62 && seen[2] == INT64_MAX &&
			   seen[3] == INT64_MAX - ((int64_t)1 << 62),
		   "the sum saturates at INT64_MAX instead of wrapping (%lld, %lld, %lld)",
		   (long long)seen[1], (long long)seen[2], (long long)seen[3]);
		int id = stats_counter_id(&w.stats, "t.count");
		surge_count(&w, id, INT64_MIN);
		surge_count(&w, id, INT64_MIN);
		ok(w.stats.ncounter[id].value == INT64_MIN, "and at INT64_MIN going down");
		struct stats tot;
		memset(&tot, 0, sizeof(tot));
		surge_count(&w, id, INT64_MAX);
		surge_count(&w, id, INT64_MAX);
		ok(stats_init(&tot) == 0 && stats_add(&tot, &w.stats) == 0 &&
			   stats_add(&tot, &w.stats) == 0 &&
			   tot.ncounter[stats_counter_id(&tot, "t.count")].value == INT64_MAX,
		   "merging seconds or workers saturates too");
		stats_free(&tot);
	}
	lua_engine_free(le);
	options_free(&opt);
	unlink(scn);

	/* A request length is a whole number of bytes within the buffer: nan
	 * passed "n < 0 || n > cap" and became a size_t (counted sent, nothing
	 * written). Each bad one, and a request that is neither a string, a
	 * number nor nil, is a script error naming request()'s file:line. */
	le = NULL;
	scn = write_file("local ffi = require 'ffi'\n"
			 "local V = { 4, 0/0, 1/0, -1, 2.5, 'big', true, {}, 'cdata' }\n"
			 "return { target = 'tcp://127.0.0.1:7', connections = 1, duration = '1s',\n"
			 "  protocol = { framing = { kind = 'fixed', size = 4 },\n"
			 "    request = function(ctx, buf, cap)\n"
			 "      ffi.copy(buf, 'ping', 4)\n"
			 "      local v = V[tonumber(ctx.seq)]\n"
			 "      if v == 'big' then return cap + 1 end\n"
			 "      if v == 'cdata' then return ffi.new('int64_t', 4) end\n"
			 "      return v\n"
			 "    end } }\n");
	memset(&opt, 0, sizeof(opt));
	ok(scn && lua_engine_load(scn, NULL, 0, &opt, err, sizeof(err), &le) == 0 &&
	   lua_engine_bind_worker(le, &w, err, sizeof(err)) == 0,
	   "a protocol returning request lengths loads and binds");
	if (le) {
		static const char *const what[] = { "", "4", "nan", "inf", "-1", "2.5", "cap + 1",
						     "true", "a table", "an int64 cdata" };
		char why[64], at[128];
		double key;
		const uint8_t *q = NULL;
		size_t qn = 0;
		snprintf(at, sizeof(at), "%s:5: protocol request() returned", scn);
		for (int r = 1; r <= 9; r++) {
			w.ctxs[0].seq = (uint64_t)r;
			int rc = lua_engine_request(le, 0, w.reqbuf, SURGE_REQBUF_SIZE, &q, &qn,
						    &key, why, sizeof(why));
			const char *e = rc < 0 ? lua_engine_last_error(le) : "";
			if (r == 1)
				ok(rc == 0 && qn == 4 && q == w.reqbuf, "request length %s: sent",
				   what[r]);
			else
				ok(rc == -EINVAL && strstr(e, at) &&
					   strstr(e, r <= 6 ? "not a whole number of bytes"
							    : "return the request (a string"),
				   "request length %s: a script error at request()'s line: %.*s",
				   what[r], (int)strcspn(e, "\n"), e);
		}
	}
	lua_engine_free(le);
	options_free(&opt);
	unlink(scn);

	/* match = "key": a key is a number, not nan, on both sides alike. A
	 * string "7" from request() was coerced to 7 while the same string
	 * from response() matched nothing, and "abc" became 0: each is now a
	 * script error naming the function's file:line. */
	le = NULL;
	scn = write_file("local V = { 7, '7', 'abc', 0/0, false, {} }\n"
			 "return { target = 'tcp://127.0.0.1:7', connections = 1, duration = '1s',\n"
			 "  protocol = { framing = { kind = 'fixed', size = 4 }, match = 'key',\n"
			 "    request = function(ctx, buf, cap)\n"
			 "      if ctx.seq == 0 then return nil, 'skipped' end\n"
			 "      return 'ping', V[tonumber(ctx.seq)]\n"
			 "    end,\n"
			 "    response = function(ctx, p, len)\n"
			 "      if ctx.seq == 0 then return nil, 'no key' end\n"
			 "      return V[tonumber(ctx.seq)]\n"
			 "    end } }\n");
	memset(&opt, 0, sizeof(opt));
	ok(scn && lua_engine_load(scn, NULL, 0, &opt, err, sizeof(err), &le) == 0 &&
	   lua_engine_bind_worker(le, &w, err, sizeof(err)) == 0 && opt.match == MATCH_KEY,
	   "a keyed protocol loads and binds");
	if (le) {
		static const char *const what[] = { "7", "the string 7", "abc", "nan", "false",
						     "a table" };
		char why[64], req_at[128], resp_at[128];
		double key;
		bool has_key, ends;
		const uint8_t *q;
		size_t qn;
		snprintf(req_at, sizeof(req_at), "%s:4: protocol request() returned a", scn);
		snprintf(resp_at, sizeof(resp_at), "%s:8: protocol response() returned a", scn);
		w.ctxs[0].seq = 0;
		int rq = lua_engine_request(le, 0, w.reqbuf, SURGE_REQBUF_SIZE, &q, &qn, &key, why,
					    sizeof(why));
		int rs = lua_engine_response(le, 0, (const uint8_t *)"ping", 4, &key, &has_key,
					     &ends, why, sizeof(why));
		ok(rq == -EPROTO && rs == 0 && !has_key && strcmp(why, "no key") == 0,
		   "nil and a reason: still a skipped request, and a wrong answer without a key");
		for (int r = 1; r <= 6; r++) {
			w.ctxs[0].seq = (uint64_t)r;
			rq = lua_engine_request(le, 0, w.reqbuf, SURGE_REQBUF_SIZE, &q, &qn, &key,
						why, sizeof(why));
			char e1[512];
			snprintf(e1, sizeof(e1), "%s", rq < 0 ? lua_engine_last_error(le) : "");
			rs = lua_engine_response(le, 0, (const uint8_t *)"ping", 4, &key, &has_key,
						 &ends, why, sizeof(why));
			const char *e2 = rs < 0 ? lua_engine_last_error(le) : "";
			if (r == 1)
				ok(rq == 0 && rs == 0 && has_key && key == 7,
				   "key %s: the same number from both sides", what[r - 1]);
			else
				ok(rq == -EINVAL && rs == -EINVAL && strstr(e1, req_at) &&
					   strstr(e2, resp_at) && strstr(e2, "takes a number"),
				   "key %s: a script error on both sides, at the function's line: "
				   "%.*s",
				   what[r - 1], (int)strcspn(e2, "\n"), e2);
		}
	}
	lua_engine_free(le);
	options_free(&opt);
	stats_free(&w.stats);
	free(w.ctxs);
	free(w.reqbuf);
	unlink(scn);
	return tap_done();
}
