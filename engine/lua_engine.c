/*
 * lua_engine: the LuaJIT state, the scenario loader's C half and the
 * protected calls from the engine into Lua protocols. The Lua halves are
 * lua/surge/scenario.lua (validation) and lua/surge/runtime.lua (the
 * trampolines called here), so this file only moves values across.
 */
#include "lua_engine.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "surge/ffi.h"
#include "worker.h"

enum { FN_REQUEST, FN_RESPONSE, FN_FRAME, FN_SESSION_START, FN_SESSION_RESUME, FN_EXPIRED,
       FN_CONN_EVENT, FN_SESSION_STRAY,
       FN__COUNT };

/* Answers up to this size reach Lua through one buffer whose FFI pointer
 * Lua made once: a pointer cast per answer is a 24-byte allocation, more
 * than copying a DNS answer costs. Larger ones are handed over in place. */
#define MSG_COPY_MAX 4096

struct lua_engine {
	lua_State *L;
	uint8_t msg[MSG_COPY_MAX];
	int cfg_ref;
	int fn_ref[FN__COUNT];
	int keep_ref; /* the last request string, alive until the next call */
	char last_error[4096];
	char request_at[256]; /* "file:line" of the protocol's request(), for its errors */
	char response_at[256]; /* ... and of its response() */
	bool by_key; /* match = "key": both callbacks must give a number key */
	bool then_tcp; /* the last response returned "tcp" third */
	bool late;     /* the last response returned "late" third */
	uint64_t *calls; /* shared with the coordinator (lua_engine_count_calls), or NULL */
};

/* Stack slot 1 holds the traceback handler for every pcall. Its upvalue,
 * once a worker is bound, is runtime.lua's raised(): error({ code = 1 })
 * or error() carry no position, and only Lua knows which callback raised. */
#define TRACEBACK_IDX 1

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg && lua_isfunction(L, lua_upvalueindex(1))) {
		lua_pushvalue(L, lua_upvalueindex(1));
		lua_pushvalue(L, 1);
		if (lua_pcall(L, 1, 1, 0) == 0)
			msg = lua_tostring(L, -1);
	}
	if (!msg)
		msg = "(error object is not a string)";
	luaL_traceback(L, L, msg, 1);
	return 1;
}

static void set_error(struct lua_engine *le, const char *msg)
{
	snprintf(le->last_error, sizeof(le->last_error), "%s", msg ? msg : "unknown Lua error");
}

/* Lua modules: $SURGE_LUA_PATH, then lua/ beside the binary (a build tree),
 * then ../share/surge/lua from the binary (an install under any PREFIX),
 * then the share directory of the configured PREFIX. */
static void set_package_path(lua_State *L)
{
	char exe[PATH_MAX], buf[8 * PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *env = getenv("SURGE_LUA_PATH");
	char bindir[PATH_MAX] = ".";

	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		snprintf(bindir, sizeof(bindir), "%s", exe);
	}
	/* A build directory of the checkout (build/, build-asan/, any BUILD=)
	 * finds the checkout's lua/ one level up; an installed bin/ finds
	 * ../share/surge/lua. */
	lua_getglobal(L, "package");
	/* LuaJIT's own path (LUA_PATH, or its default) last: a user's modules
	 * are found, surge's own cannot be shadowed by them. */
	lua_getfield(L, -1, "path");
	const char *dflt = lua_tostring(L, -1);
	snprintf(buf, sizeof(buf),
		 "%s%s%s/../lua/?.lua;%s/../lua/?/init.lua;%s/../share/surge/lua/?.lua;"
		 "%s/../share/surge/lua/?/init.lua;%s/?.lua;%s/?/init.lua;%s",
		 env ? env : "", env ? ";" : "", bindir, bindir, bindir, bindir, SURGE_LUADIR,
		 SURGE_LUADIR, dflt ? dflt : "");
	lua_pop(L, 1);
	lua_pushstring(L, buf);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

/* include/surge/ffi.h as ffi.cdef text (the Makefile makes it). */
static const char ffi_cdef[] =
#include "ffi_cdef.h"
	;

/* require "surge.cdef" is that text: runtime.lua declares the seam from the
 * header itself, so the two sides cannot drift. */
static void preload_cdef(lua_State *L)
{
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "loaded");
	lua_pushlstring(L, ffi_cdef, sizeof(ffi_cdef) - 1);
	lua_setfield(L, -2, "surge.cdef");
	lua_pop(L, 2);
}

static lua_State *new_state(void)
{
	lua_State *L = luaL_newstate();

	if (!L)
		return NULL;
	luaL_openlibs(L);
	set_package_path(L);
	preload_cdef(L);
	lua_settop(L, 0);
	lua_pushnil(L); /* raised(), set by lua_engine_bind_worker */
	lua_pushcclosure(L, traceback, 1);
	return L;
}

/* ---- reading the validated scenario table into struct options ---- */

static double field_num(lua_State *L, int t, const char *k, double dflt)
{
	lua_getfield(L, t, k);
	double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : dflt;
	lua_pop(L, 1);
	return v;
}

static char *field_str(lua_State *L, int t, const char *k)
{
	lua_getfield(L, t, k);
	char *v = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
	lua_pop(L, 1);
	return v;
}

static bool field_bool(lua_State *L, int t, const char *k)
{
	lua_getfield(L, t, k);
	bool v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

static uint64_t s_to_ns(double s)
{
	return s <= 0 ? 0 : (uint64_t)llround(s * 1e9);
}

/* A ramp compiled by Lua: { {t0, t1, r0, r1}, ... } in seconds. */
static int read_segments(lua_State *L, int t, const char *k, struct rate_segment **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	lua_getfield(L, t, k);
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	size_t len = lua_objlen(L, -1);
	struct rate_segment *s = calloc(len ? len : 1, sizeof(*s));
	if (!s) {
		lua_pop(L, 1);
		return -ENOMEM;
	}
	for (size_t i = 0; i < len; i++) {
		lua_rawgeti(L, -1, (int)i + 1);
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		lua_rawgeti(L, -3, 3);
		lua_rawgeti(L, -4, 4);
		s[i].t0 = s_to_ns(lua_tonumber(L, -4));
		s[i].t1 = s_to_ns(lua_tonumber(L, -3));
		s[i].r0 = lua_tonumber(L, -2);
		s[i].r1 = lua_tonumber(L, -1);
		lua_pop(L, 5);
	}
	lua_pop(L, 1);
	*out = s;
	*n = len;
	return 0;
}

/* The loader's per-target requests (scenario.lua), when the targets' bytes
 * differ: a string for each target, in their order. Anything else is
 * refused (-EINVAL): a target left out would send another's login. */
static int read_by_target(lua_State *L, int p, struct options *o)
{
	int rc = 0;

	lua_getfield(L, p, "request_by_target");
	if (lua_istable(L, -1)) {
		size_t n = lua_objlen(L, -1);
		if (n != o->ntargets || !n)
			rc = -EINVAL;
		else if (!(o->const_by_target = calloc(n, sizeof(*o->const_by_target))))
			rc = -ENOMEM;
		for (size_t i = 0; rc == 0 && i < n; i++) {
			size_t len;
			lua_rawgeti(L, -1, (int)i + 1);
			const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
			struct const_request *r = &o->const_by_target[i];
			if (!s)
				rc = -EINVAL;
			else if (!(r->p = malloc(len ? len : 1)))
				rc = -ENOMEM;
			if (rc == 0) {
				memcpy(r->p, s, len);
				r->len = len;
			}
			o->nconst_by_target += rc == 0;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	return rc;
}

static int read_protocol(lua_State *L, int t, struct options *o)
{
	lua_getfield(L, t, "protocol");
	int p = lua_gettop(L);
	const char *name, *s;
	size_t len;

	lua_getfield(L, p, "name");
	name = lua_tostring(L, -1);
	snprintf(o->proto_name, sizeof(o->proto_name), "%s", name ? name : "custom");
	lua_pop(L, 1);
	lua_getfield(L, p, "shape");
	s = lua_tostring(L, -1);
	o->shape = s && strcmp(s, "session") == 0 ? SHAPE_SESSION : SHAPE_MESSAGE;
	lua_pop(L, 1);
	o->pipeline = (uint32_t)field_num(L, p, "pipeline", 1);
	lua_getfield(L, p, "match");
	s = lua_tostring(L, -1);
	o->match = s && strcmp(s, "key") == 0 ? MATCH_KEY : MATCH_FIFO;
	lua_pop(L, 1);
	o->max_message = (uint32_t)field_num(L, p, "max_message", 1 << 20);
	lua_getfield(L, p, "transport");
	s = lua_tostring(L, -1);
	o->transport = s && strcmp(s, "udp") == 0 ? TRANSPORT_UDP : TRANSPORT_TCP;
	lua_pop(L, 1);
	if (o->transport == TRANSPORT_UDP) {
		o->retries = (uint32_t)field_num(L, p, "retries", 0);
		o->retry_after_ns = s_to_ns(field_num(L, p, "retry_after", 0));
		if (!o->retry_after_ns)
			o->retry_after_ns = o->request_timeout_ns / (o->retries + 1);
		o->tcp_fallback = field_bool(L, p, "tcp_fallback");
	}

	lua_getfield(L, p, "framing");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "kind");
		s = lua_tostring(L, -1);
		lua_pop(L, 1);
		if (s && strcmp(s, "fixed") == 0) {
			o->framing = FRAME_FIXED;
			o->frame_size = (uint32_t)field_num(L, lua_gettop(L), "size", 0);
		} else if (s && strcmp(s, "u16") == 0) {
			o->framing = FRAME_U16;
		} else if (s && strcmp(s, "delimiter") == 0) {
			o->framing = FRAME_DELIM;
			lua_getfield(L, -1, "delim");
			s = lua_tolstring(L, -1, &len);
			if (s && len <= sizeof(o->delim)) {
				memcpy(o->delim, s, len);
				o->delim_len = len;
			}
			lua_pop(L, 1);
		} else if (s && strcmp(s, "lua") == 0) {
			o->framing = FRAME_LUA;
		} else if (s && strcmp(s, "http") == 0) {
			int f = lua_gettop(L);
			o->framing = FRAME_HTTP;
			o->http.head = field_bool(L, f, "head");
			o->http.max_head = (uint32_t)field_num(L, f, "max_head", HTTP_MAX_HEAD_DEFAULT);
			o->http.max_headers =
				(uint32_t)field_num(L, f, "max_headers", HTTP_MAX_HEADERS_DEFAULT);
		}
	}
	lua_pop(L, 1);

	lua_getfield(L, p, "request");
	if (lua_isstring(L, -1)) {
		s = lua_tolstring(L, -1, &len);
		o->const_request = malloc(len ? len : 1);
		if (!o->const_request) {
			lua_pop(L, 2);
			return -ENOMEM;
		}
		memcpy(o->const_request, s, len);
		o->const_request_len = len;
		int rc = read_by_target(L, p, o);
		if (rc < 0) {
			lua_pop(L, 2);
			return rc;
		}
	} else {
		o->has_request_fn = lua_isfunction(L, -1);
	}
	lua_pop(L, 1);
	lua_getfield(L, p, "response");
	o->has_response_fn = lua_isfunction(L, -1);
	lua_pop(L, 1);
	/* ctx.state starts empty on each connection: any Lua callback may use it. */
	lua_getfield(L, p, "connect");
	lua_getfield(L, p, "close");
	o->has_conn_events = o->shape == SHAPE_MESSAGE &&
			     (lua_isfunction(L, -1) || lua_isfunction(L, -2) || o->has_request_fn ||
			      o->has_response_fn || o->framing == FRAME_LUA);
	lua_pop(L, 3);
	return 0;
}

static int read_targets(lua_State *L, int t, struct options *o)
{
	lua_getfield(L, t, "targets");
	size_t n = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
	o->targets = calloc(n ? n : 1, sizeof(*o->targets));
	if (!o->targets) {
		lua_pop(L, 1);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, -1, (int)i + 1);
		o->targets[i].host = field_str(L, lua_gettop(L), "host");
		o->targets[i].port = (uint16_t)field_num(L, lua_gettop(L), "port", 0);
		o->targets[i].tls = field_bool(L, lua_gettop(L), "tls");
		lua_pop(L, 1);
		if (!o->targets[i].host) {
			lua_pop(L, 1);
			return -ENOMEM;
		}
		o->ntargets++;
	}
	lua_pop(L, 1);
	return 0;
}

/* resolver = { servers = "a,b", timeout = s, tries = n }, family, resolve_every. */
static void read_resolver(lua_State *L, int t, struct options *o)
{
	struct resolve_config *rc = &o->resolver;

	lua_getfield(L, t, "resolver");
	if (lua_istable(L, -1)) {
		int r = lua_gettop(L);
		rc->servers = field_str(L, r, "servers");
		rc->timeout_ns = s_to_ns(field_num(L, r, "timeout", 0));
		rc->tries = (uint32_t)field_num(L, r, "tries", 0);
	}
	lua_pop(L, 1);
	lua_getfield(L, t, "family");
	const char *f = lua_tostring(L, -1);
	rc->family = f && strcmp(f, "ipv4") == 0   ? RESOLVE_IPV4
		     : f && strcmp(f, "ipv6") == 0 ? RESOLVE_IPV6
						   : RESOLVE_ANY;
	lua_pop(L, 1);
	lua_getfield(L, t, "resolve_every");
	if (lua_type(L, -1) == LUA_TNUMBER)
		rc->every_ns = s_to_ns(lua_tonumber(L, -1));
	else
		rc->never = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "never") == 0;
	lua_pop(L, 1);
}

/* tls = { verify, resume, ca, sni, cert, key, alpn = "a,b", min_version,
 * max_version } as scenario.lua normalized it (always present). */
static int read_tls(lua_State *L, int t, struct options *o)
{
	struct tls_options *x = &o->tls;

	x->verify = x->resume = true;
	lua_getfield(L, t, "tls");
	if (lua_istable(L, -1)) {
		int k = lua_gettop(L);
		x->verify = field_bool(L, k, "verify");
		x->resume = field_bool(L, k, "resume");
		x->min_version = (uint16_t)field_num(L, k, "min_version", 0);
		x->max_version = (uint16_t)field_num(L, k, "max_version", 0);
		const char *names[] = {"ca", "sni", "cert", "key", "alpn"};
		char **slots[] = {&x->ca, &x->sni, &x->cert, &x->key, &x->alpn};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			lua_getfield(L, k, names[i]);
			bool set = lua_isstring(L, -1);
			lua_pop(L, 1);
			if (set && !(*slots[i] = field_str(L, k, names[i]))) {
				lua_pop(L, 1);
				return -ENOMEM;
			}
		}
	}
	lua_pop(L, 1);
	return 0;
}

/* { {metric=, condition=, where=}, ... } as scenario.lua lists them. */
static int read_thresholds(lua_State *L, int t, struct options *o)
{
	lua_getfield(L, t, "thresholds");
	size_t n = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
	o->threshold_specs = n ? calloc(n, sizeof(*o->threshold_specs)) : NULL;
	if (n && !o->threshold_specs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct threshold_spec *s = &o->threshold_specs[i];
		lua_rawgeti(L, -1, (int)i + 1);
		s->metric = field_str(L, lua_gettop(L), "metric");
		s->condition = field_str(L, lua_gettop(L), "condition");
		s->where = field_str(L, lua_gettop(L), "where");
		s->abort = field_bool(L, lua_gettop(L), "abort");
		s->abort_after_ns = s_to_ns(field_num(L, lua_gettop(L), "abort_after", 0));
		lua_pop(L, 1);
		o->nthreshold_specs++;
		if (!s->condition || !s->where)
			return -ENOMEM;
	}
	lua_pop(L, 1);
	return 0;
}

/* Where a URL's authority begins: after its scheme's "://" when it starts
 * with one (RFC 3986 3.1), else at the start (host:port alone). */
static char *authority_of(char *url)
{
	char *p = url;

	if (!isalpha((unsigned char)*p))
		return url;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	return strncmp(p, "://", 3) == 0 ? p + 3 : url;
}

/* Whether auth[0..len) reads as host[:port] ("[::1]:53", "h", "h:80"). */
static bool host_port(const char *auth, size_t len)
{
	const char *colon = memchr(auth, ':', len);

	if (len && auth[0] == '[')
		return true;
	for (const char *p = colon ? colon + 1 : auth + len; p < auth + len; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* The password of a URL's userinfo (rtsp://alice:secret@host/) cut out, in
 * place, or all of a user given alone (https://TOKEN@host/: often a token):
 * o->target is what every report shows, and reports are shared; the module
 * that logs in reads the scenario's own target. The same rule as
 * target.lua's shown(): the userinfo ends at the authority's last '@'; with
 * none there and an authority that is no host[:port], at the URL's last
 * '@' (a password with an unescaped '/', '?' or '#'). */
static void target_drop_password(char *url)
{
	if (!url)
		return;
	char *auth = authority_of(url);
	size_t len = strcspn(auth, "/?#");
	char *at = memrchr(auth, '@', len), *colon;

	if (at) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon)
			memmove(colon, at, strlen(at) + 1);
		else
			memmove(auth, at + 1, strlen(at + 1) + 1);
		return;
	}
	if (host_port(auth, len) || !(at = strrchr(auth, '@')))
		return;
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (colon)
		memmove(colon, at, strlen(at) + 1);
}

static int read_options(lua_State *L, int t, struct options *o)
{
	int rc;

	o->target = field_str(L, t, "target");
	target_drop_password(o->target);
	if ((rc = read_segments(L, t, "connections", &o->conn_segs, &o->nconn_segs)) < 0)
		return rc;
	o->max_connections = (uint32_t)field_num(L, t, "max_connections", 1);
	o->connect_rate = field_num(L, t, "connect_rate", 10000);
	o->connection_rate = field_num(L, t, "connection_rate", 0);
	o->requests_per_connection = (uint32_t)field_num(L, t, "requests_per_connection", 0);
	o->connection_lifetime_ns = s_to_ns(field_num(L, t, "connection_lifetime", 0));
	o->connection_jitter_ns = s_to_ns(field_num(L, t, "connection_jitter", 0));
	if ((rc = read_segments(L, t, "rate", &o->rate_segs, &o->nrate_segs)) < 0)
		return rc;
	lua_getfield(L, t, "arrival");
	const char *arr = lua_tostring(L, -1);
	o->arrival = arr && strcmp(arr, "poisson") == 0 ? PACER_POISSON : PACER_UNIFORM;
	lua_pop(L, 1);
	lua_getfield(L, t, "start");
	const char *start = lua_tostring(L, -1);
	o->start = start && strcmp(start, "connected") == 0 ? START_CONNECTED : START_NOW;
	lua_pop(L, 1);
	o->backlog_max = (uint32_t)field_num(L, t, "backlog", 100000);
	o->duration_ns = s_to_ns(field_num(L, t, "duration", 10));
	o->requests = (uint64_t)field_num(L, t, "requests", 0);
	o->duration_unbounded = field_bool(L, t, "duration_unbounded");
	o->connect_timeout_ns = s_to_ns(field_num(L, t, "connect_timeout", 5));
	o->request_timeout_ns = s_to_ns(field_num(L, t, "timeout", 5));
	o->think_ns = s_to_ns(field_num(L, t, "think", 0));
	o->think_jitter_ns = s_to_ns(field_num(L, t, "think_jitter", 0));
	double window = field_num(L, t, "pace_window", -1);
	o->pace_window_given = window >= 0;
	o->pace_window_ns = o->pace_window_given ? s_to_ns(window) : 0;
	o->drain_ns = s_to_ns(field_num(L, t, "drain", 1));
	o->seed = (uint64_t)field_num(L, t, "seed", 1);
	o->workers = (uint32_t)field_num(L, t, "workers", 0);
	o->workers_given = o->workers > 0;
	o->latency_table = field_bool(L, t, "latency");
	o->quiet = field_bool(L, t, "quiet");
	lua_getfield(L, t, "progress");
	const char *pr = lua_tostring(L, -1);
	o->progress = !pr || strcmp(pr, "auto") == 0 ? PROGRESS_AUTO
		      : strcmp(pr, "on") == 0	   ? PROGRESS_ON
						   : PROGRESS_OFF;
	lua_pop(L, 1);
	o->json_path = field_str(L, t, "json");
	o->hlog_path = field_str(L, t, "hlog");
	o->html_path = field_str(L, t, "html");
	o->samples_path = field_str(L, t, "samples_file");
	o->samples_every = (uint32_t)field_num(L, t, "samples_every", 1);
	if ((rc = read_targets(L, t, o)) < 0)
		return rc;
	read_resolver(L, t, o);
	if ((rc = read_tls(L, t, o)) < 0)
		return rc;
	if ((rc = read_thresholds(L, t, o)) < 0)
		return rc;
	return read_protocol(L, t, o);
}

/* bind, pick, ports (issue 4): already validated by scenario.lua with the
 * same parser, so an error here is only out of memory or a loader bypass. */
static int read_sources(lua_State *L, int t, struct options *o, char *err, size_t errlen)
{
	char *spec = field_str(L, t, "bind"), *ports = field_str(L, t, "ports");
	char *pick = field_str(L, t, "pick");
	int rc = 0;

	if (pick && addrset_pick_parse(pick, &o->pick) < 0) {
		snprintf(err, errlen, "option 'pick': unknown '%s'", pick);
		rc = -EINVAL;
		goto out;
	}
	if (ports && (rc = addrset_ports_parse(ports, &o->ports, err, errlen)) < 0)
		goto out;
	if (spec) {
		o->bind = calloc(1, sizeof(*o->bind));
		if (!o->bind) {
			rc = -ENOMEM;
			goto out;
		}
		rc = addrset_parse(o->bind, spec, err, errlen);
		o->bind_spec = spec;
		spec = NULL;
	}
out:
	free(spec);
	free(ports);
	free(pick);
	return rc;
}

int lua_engine_load(const char *scenario_path, const char *const *overrides, size_t noverrides,
		    struct options *opt, char *err, size_t errlen, struct lua_engine **out)
{
	struct lua_engine *le = calloc(1, sizeof(*le));
	int rc = -EINVAL;

	if (!le)
		return -ENOMEM;
	for (int i = 0; i < FN__COUNT; i++)
		le->fn_ref[i] = LUA_NOREF;
	le->keep_ref = LUA_NOREF;
	le->L = new_state();
	if (!le->L) {
		free(le);
		return -ENOMEM;
	}
	lua_State *L = le->L;

	lua_getglobal(L, "require");
	lua_pushstring(L, "surge.scenario");
	if (lua_pcall(L, 1, 1, TRACEBACK_IDX) != 0) {
		snprintf(err, errlen, "cannot load surge's Lua modules: %s", lua_tostring(L, -1));
		goto fail;
	}
	lua_getfield(L, -1, "load");
	lua_pushstring(L, scenario_path);
	lua_createtable(L, (int)noverrides, 0);
	for (size_t i = 0; i + 1 < noverrides * 2; i += 2) {
		lua_createtable(L, 2, 0);
		lua_pushstring(L, overrides[i]);
		lua_rawseti(L, -2, 1);
		lua_pushstring(L, overrides[i + 1]);
		lua_rawseti(L, -2, 2);
		lua_rawseti(L, -2, (int)(i / 2) + 1);
	}
	/* load() returns cfg, or nil and a message for people (no traceback:
	 * the message names file, line and option already). */
	if (lua_pcall(L, 2, 2, TRACEBACK_IDX) != 0) {
		snprintf(err, errlen, "%s", lua_tostring(L, -1));
		goto fail;
	}
	if (lua_isnil(L, -2)) {
		snprintf(err, errlen, "%s", lua_tostring(L, -1));
		goto fail;
	}
	lua_pop(L, 1);
	rc = read_options(L, lua_gettop(L), opt);
	if (rc < 0) {
		snprintf(err, errlen, rc == -ENOMEM ? "out of memory reading the scenario"
						   : "the scenario's table is not the loader's (request_by_target)");
		goto fail;
	}
	if ((rc = read_sources(L, lua_gettop(L), opt, err, errlen)) < 0)
		goto fail;
	le->cfg_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_settop(L, TRACEBACK_IDX);
	opt->scenario_path = scenario_path;
	/* A URL run's path is its target: shown as the target is, without a
	 * password (the Lua state, which logs in, has read it already). */
	if (strstr(scenario_path, "://") && (opt->scenario_shown = strdup(scenario_path))) {
		target_drop_password(opt->scenario_shown);
		opt->scenario_path = opt->scenario_shown;
	}
	*out = le;
	return 0;
fail:
	lua_close(L);
	free(le);
	return rc;
}

void lua_engine_free(struct lua_engine *le)
{
	if (!le)
		return;
	lua_close(le->L);
	free(le);
}

static const char *const fn_names[FN__COUNT] = {
	[FN_REQUEST] = "request",
	[FN_RESPONSE] = "response",
	[FN_FRAME] = "frame",
	[FN_SESSION_START] = "session_start",
	[FN_SESSION_RESUME] = "session_resume",
	[FN_EXPIRED] = "expired",
	[FN_CONN_EVENT] = "conn_event",
	[FN_SESSION_STRAY] = "session_stray",
};

int lua_engine_bind_worker(struct lua_engine *le, struct worker *w, char *err, size_t errlen)
{
	lua_State *L = le->L;

	lua_settop(L, TRACEBACK_IDX);
	lua_getglobal(L, "require");
	lua_pushstring(L, "surge.runtime");
	if (lua_pcall(L, 1, 1, TRACEBACK_IDX) != 0)
		goto fail;
	lua_getfield(L, -1, "bind");
	lua_pushlightuserdata(L, w);
	lua_rawgeti(L, LUA_REGISTRYINDEX, le->cfg_ref);
	lua_pushlightuserdata(L, le->msg);
	if (lua_pcall(L, 3, 1, TRACEBACK_IDX) != 0)
		goto fail;
	for (int i = 0; i < FN__COUNT; i++) {
		lua_getfield(L, -1, fn_names[i]);
		le->fn_ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_getfield(L, -1, "raised");
	lua_setupvalue(L, TRACEBACK_IDX, 1);
	lua_getfield(L, -1, "request_at");
	snprintf(le->request_at, sizeof(le->request_at), "%s",
		 lua_isstring(L, -1) ? lua_tostring(L, -1) : "protocol");
	lua_getfield(L, -2, "response_at");
	snprintf(le->response_at, sizeof(le->response_at), "%s",
		 lua_isstring(L, -1) ? lua_tostring(L, -1) : "protocol");
	le->by_key = w->opt->match == MATCH_KEY;
	lua_settop(L, TRACEBACK_IDX);
	return 0;
fail:
	snprintf(err, errlen, "worker %u: %s", w->index, lua_tostring(L, -1));
	lua_settop(L, TRACEBACK_IDX);
	return -EINVAL;
}

int lua_engine_declared(struct lua_engine *le, const char *kind, const char *name, char *hint,
			size_t hintlen)
{
	lua_State *L = le->L;
	int rc = -EINVAL;

	hint[0] = '\0';
	lua_settop(L, TRACEBACK_IDX);
	lua_getglobal(L, "require");
	lua_pushstring(L, "surge");
	if (lua_pcall(L, 1, 1, TRACEBACK_IDX) != 0)
		goto out;
	lua_getfield(L, -1, "_is_declared");
	lua_pushstring(L, kind);
	lua_pushstring(L, name);
	if (lua_pcall(L, 2, 2, TRACEBACK_IDX) != 0)
		goto out;
	rc = lua_toboolean(L, -2);
	if (!rc && lua_isstring(L, -1))
		snprintf(hint, hintlen, "%s", lua_tostring(L, -1));
out:
	if (rc < 0)
		snprintf(hint, hintlen, "%s", lua_tostring(L, -1));
	lua_settop(L, TRACEBACK_IDX);
	return rc;
}

void lua_engine_count_calls(struct lua_engine *le, uint64_t *calls)
{
	le->calls = calls;
}

/* Counts up on the way in and out: odd while a call runs. Two stores to a
 * shared page, no clock, no system call. */
static void count_call(struct lua_engine *le)
{
	if (le->calls)
		__atomic_store_n(le->calls, *le->calls + 1, __ATOMIC_RELAXED);
}

static int call(struct lua_engine *le, int nargs, int nres)
{
	lua_State *L = le->L;

	count_call(le);
	int rc = lua_pcall(L, nargs, nres, TRACEBACK_IDX);
	count_call(le);
	if (rc != 0) {
		set_error(le, lua_tostring(L, -1));
		lua_settop(L, TRACEBACK_IDX);
		return -EINVAL;
	}
	return 0;
}

/* match = "key": the key at the top of L is not a number, or is nan. Both
 * sides are held to it, so what request() gives is what response() must
 * give back: a string "7" was coerced to 7 on one side only, "abc" to 0. */
static void bad_key(struct lua_engine *le, const char *at, const char *fn, lua_State *L)
{
	const char *type = luaL_typename(L, -1); /* before lua_tostring makes it a string */
	const char *v = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
	char msg[512];

	snprintf(msg, sizeof(msg), "%s: protocol %s() returned a %s key%s%.64s: match = \"key\" "
		 "takes a number, not nan, from request() and response() alike: convert it "
		 "(tonumber) or number the requests yourself", at, fn, type,
		 v ? " " : "", v ? v : "");
	set_error(le, msg);
}

int lua_engine_request(struct lua_engine *le, uint32_t conn_id, uint8_t *buf, size_t cap,
		       const uint8_t **out, size_t *outlen, double *key, char *why, size_t whylen)
{
	lua_State *L = le->L;

	lua_rawgeti(L, LUA_REGISTRYINDEX, le->fn_ref[FN_REQUEST]);
	lua_pushinteger(L, conn_id);
	if (call(le, 1, 2) < 0)
		return -EINVAL;
	int rc = 0;
	*key = lua_tonumber(L, -1);
	if (le->by_key && !lua_isnil(L, -2) && (lua_type(L, -1) != LUA_TNUMBER || *key != *key)) {
		bad_key(le, le->request_at, "request", L);
		lua_settop(L, TRACEBACK_IDX);
		return -EINVAL;
	}
	if (lua_type(L, -2) == LUA_TNUMBER) {
		double n = lua_tonumber(L, -2);
		/* Written so NaN fails it too (cast to size_t it sent nothing), and
		 * a fraction (6.9 would send 6 bytes). */
		if (!(n >= 0 && n <= (double)cap) || n != (double)(size_t)n) {
			char msg[512];
			snprintf(msg, sizeof(msg),
				 "%s: protocol request() returned the length %.15g, not a whole "
				 "number of bytes in the buffer (0 to %zu): return the number of "
				 "bytes written into buf",
				 le->request_at, n != n ? NAN : n, cap);
			set_error(le, msg);
			rc = -EINVAL;
		} else {
			*out = buf;
			*outlen = (size_t)n;
		}
	} else if (lua_type(L, -2) == LUA_TSTRING) {
		/* Kept referenced until the next request so the bytes stay valid. */
		*out = (const uint8_t *)lua_tolstring(L, -2, outlen);
		luaL_unref(L, LUA_REGISTRYINDEX, le->keep_ref);
		lua_pushvalue(L, -2);
		le->keep_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	} else if (lua_type(L, -2) == LUA_TNIL) {
		snprintf(why, whylen, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "skipped");
		rc = -EPROTO;
	} else {
		/* A table, boolean or cdata is a mistake, not a skipped request. */
		char msg[512];
		snprintf(msg, sizeof(msg),
			 "%s: protocol request() returned a %s: return the request (a string, or "
			 "the length written into buf as a number) and its key, or nil and the "
			 "reason it was skipped",
			 le->request_at, luaL_typename(L, -2));
		set_error(le, msg);
		rc = -EINVAL;
	}
	lua_settop(L, TRACEBACK_IDX);
	return rc;
}

int lua_engine_response(struct lua_engine *le, uint32_t conn_id, const uint8_t *p, size_t n,
			double *key, bool *has_key, bool *ends, char *why, size_t whylen)
{
	lua_State *L = le->L;

	lua_rawgeti(L, LUA_REGISTRYINDEX, le->fn_ref[FN_RESPONSE]);
	lua_pushinteger(L, conn_id);
	if (n <= MSG_COPY_MAX) {
		memcpy(le->msg, p, n);
		lua_pushnil(L); /* in the message buffer */
	} else {
		lua_pushlightuserdata(L, (void *)p);
	}
	lua_pushinteger(L, (lua_Integer)n);
	if (call(le, 3, 3) < 0)
		return -EINVAL;
	*has_key = lua_type(L, -3) == LUA_TNUMBER;
	*key = *has_key ? lua_tonumber(L, -3) : 0;
	/* Nothing is a key-less answer (unmatched); nan or a string would be
	 * one silently, or match another request's key. */
	if (le->by_key && (*has_key ? *key != *key : !lua_isnil(L, -3))) {
		lua_pushvalue(L, -3);
		bad_key(le, le->response_at, "response", L);
		lua_settop(L, TRACEBACK_IDX);
		return -EINVAL;
	}
	why[0] = '\0';
	if (lua_isstring(L, -2))
		snprintf(why, whylen, "%s", lua_tostring(L, -2));
	*ends = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "close") == 0;
	le->then_tcp = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "tcp") == 0;
	le->late = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "late") == 0;
	lua_settop(L, TRACEBACK_IDX);
	return 0;
}

bool lua_engine_then_tcp(const struct lua_engine *le)
{
	return le->then_tcp;
}

bool lua_engine_late(const struct lua_engine *le)
{
	return le->late;
}

int lua_engine_expired(struct lua_engine *le, uint32_t conn_id, double key)
{
	lua_State *L = le->L;
	int ref = le->fn_ref[FN_EXPIRED];

	if (ref == LUA_NOREF || ref == LUA_REFNIL)
		return 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	lua_pushinteger(L, conn_id);
	lua_pushnumber(L, key);
	if (call(le, 2, 0) < 0)
		return -EINVAL;
	lua_settop(L, TRACEBACK_IDX);
	return 0;
}

long lua_engine_frame(struct lua_engine *le, const uint8_t *p, size_t n)
{
	lua_State *L = le->L;

	lua_rawgeti(L, LUA_REGISTRYINDEX, le->fn_ref[FN_FRAME]);
	lua_pushlightuserdata(L, (void *)p);
	lua_pushinteger(L, (lua_Integer)n);
	if (call(le, 2, 1) < 0)
		return FRAME_SCRIPT_ERROR;
	if (lua_type(L, -1) != LUA_TNUMBER) {
		char msg[160];
		snprintf(msg, sizeof(msg), "protocol framing.fn returned %s; expected the message's "
			 "length, 0 when more bytes are needed, or -1 for garbage",
			 lua_typename(L, lua_type(L, -1)));
		set_error(le, msg);
		lua_settop(L, TRACEBACK_IDX);
		return FRAME_SCRIPT_ERROR;
	}
	double d = lua_tonumber(L, -1);
	lua_settop(L, TRACEBACK_IDX);
	if (d >= 0 && d <= 1e9 && d != floor(d)) {
		/* Cut to a whole length, an answer would be split in two and
		 * its first part complete a request. */
		char msg[160];
		snprintf(msg, sizeof(msg), "protocol framing.fn returned %.9g; expected a whole "
			 "number of bytes (the message's length), 0 when more are needed, or -1 "
			 "for garbage", d);
		set_error(le, msg);
		return FRAME_SCRIPT_ERROR;
	}
	/* A length past anything a buffer holds is garbage, not a long wait. */
	return d != d || d < 0 || d > 1e9 ? -1 : (long)d;
}

static int session_call(struct lua_engine *le, int fn, uint32_t conn_id, int reason)
{
	lua_State *L = le->L;

	lua_rawgeti(L, LUA_REGISTRYINDEX, le->fn_ref[fn]);
	lua_pushinteger(L, conn_id);
	lua_pushinteger(L, reason);
	if (call(le, 2, 2) < 0)
		return -EINVAL;
	int r = (int)lua_tointeger(L, -2);
	if (r < 0)
		set_error(le, lua_tostring(L, -1));
	lua_settop(L, TRACEBACK_IDX);
	return r < 0 ? -EINVAL : r;
}

int lua_engine_session_stray(struct lua_engine *le, uint32_t conn_id)
{
	return session_call(le, FN_SESSION_STRAY, conn_id, 0);
}

int lua_engine_conn_event(struct lua_engine *le, uint32_t conn_id, int what, const char *why)
{
	lua_State *L = le->L;

	lua_rawgeti(L, LUA_REGISTRYINDEX, le->fn_ref[FN_CONN_EVENT]);
	if (lua_isnil(L, -1)) {
		lua_settop(L, TRACEBACK_IDX);
		return 0;
	}
	lua_pushinteger(L, conn_id);
	lua_pushinteger(L, what);
	lua_pushstring(L, why ? why : "");
	if (call(le, 3, 0) < 0)
		return -EINVAL;
	lua_settop(L, TRACEBACK_IDX);
	return 0;
}

int lua_engine_session_start(struct lua_engine *le, uint32_t conn_id)
{
	return session_call(le, FN_SESSION_START, conn_id, 0);
}

int lua_engine_session_resume(struct lua_engine *le, uint32_t conn_id, int reason)
{
	return session_call(le, FN_SESSION_RESUME, conn_id, reason);
}

const char *lua_engine_last_error(struct lua_engine *le)
{
	return le->last_error;
}

size_t lua_engine_heap_bytes(struct lua_engine *le, bool stop_gc)
{
	if (stop_gc)
		lua_gc(le->L, LUA_GCSTOP, 0);
	return (size_t)lua_gc(le->L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(le->L, LUA_GCCOUNTB, 0);
}

void lua_engine_gc_tick(struct lua_engine *le)
{
	lua_gc(le->L, LUA_GCSTEP, LUA_ENGINE_GC_TICK_KB);
}
