/*
 * lua_engine: the one LuaJIT state of a process and every call between C and
 * Lua. The coordinator uses it to load and validate the scenario; after fork
 * each worker binds it to itself and calls the protocol through it. Every call
 * into Lua is protected; a Lua error is reported with file:line and returns
 * -EINVAL (-EPROTO where the protocol rejected input).
 */
#ifndef SURGE_LUA_ENGINE_H
#define SURGE_LUA_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

struct lua_engine;
struct worker;
struct conn;

/* Creates the state, loads scenario_path with the command line's overrides
 * (pairs of "key", "value" strings), validates it and fills *opt. On error
 * returns -EINVAL with a message for people in err. */
int lua_engine_load(const char *scenario_path, const char *const *overrides, size_t noverrides,
		    struct options *opt, char *err, size_t errlen, struct lua_engine **out);
void lua_engine_free(struct lua_engine *le); /* NULL-safe */

/* Whether a module (or the engine) declared name as kind ("counter" or
 * "histogram", surge.counter/surge.declare): 1, or 0 with a did-you-mean or
 * the declared names in hint; -EINVAL (hint says why) when Lua failed. */
int lua_engine_declared(struct lua_engine *le, const char *kind, const char *name, char *hint,
			size_t hintlen);

/* In a worker, after fork: hands Lua the worker pointer and prepares the
 * protocol's per-connection state. */
int lua_engine_bind_worker(struct lua_engine *le, struct worker *w, char *err, size_t errlen);
/* From now each call into the worker's Lua adds one to *calls going in and
 * one coming out, so it is odd while a callback runs: the coordinator reads
 * it (a page both share) to tell a callback that never returns from a
 * worker that is only slow. */
void lua_engine_count_calls(struct lua_engine *le, uint64_t *calls);

/* Message protocols. request: builds one request into buf (cap bytes), or
 * points *out at a Lua string kept alive until the next call. */
int lua_engine_request(struct lua_engine *le, uint32_t conn_id, uint8_t *buf, size_t cap,
		       const uint8_t **out, size_t *outlen, double *key, char *why, size_t whylen);
/* response: *key and *has_key from the protocol; why[0] != 0 when the response
 * is a protocol error of class why; *ends when it returned "close" third: the
 * connection ends gracefully after this answer. */
int lua_engine_response(struct lua_engine *le, uint32_t conn_id, const uint8_t *p, size_t n,
			double *key, bool *has_key, bool *ends, char *why, size_t whylen);
/* Whether the last lua_engine_response returned "tcp" third: the answer was
 * truncated and its request is to be asked again over TCP (fallback.h). */
bool lua_engine_then_tcp(const struct lua_engine *le);
/* Whether the last lua_engine_response returned "late" third: the answer
 * carries the key of a request in flight but is not its answer (an earlier
 * request's that had the same key, RFC 5452 9.1); that request waits on. */
bool lua_engine_late(const struct lua_engine *le);
/* UDP: the request carrying key timed out and is forgotten; the protocol's
 * optional expired(ctx, key) frees what it kept for it. 0, or -EINVAL when
 * it raised (lua_engine_last_error). */
int lua_engine_expired(struct lua_engine *le, uint32_t conn_id, double key);
/* framing = lua: > 0 message length, 0 need more, < 0 malformed. */
long lua_engine_frame(struct lua_engine *le, const uint8_t *p, size_t n);
/* What lua_engine_frame returns when the function raised or returned no
 * number (lua_engine_last_error says which). */
#define FRAME_SCRIPT_ERROR (-2)

/* Session protocols. start: creates and runs the coroutine until it first
 * waits. resume: wakes it with an enum surge_wake reason. Both return 0 while
 * it runs on, 1 when it has finished, 2 when it finished after counting an
 * error itself (surge.error: the session failed), -EINVAL when it raised. */
/* A message protocol's connection opened (what LUA_CONN_OPENED: ctx.state
 * made empty, connect(ctx) called) or closed (LUA_CONN_CLOSED: close(ctx, why)).
 * Returns 0, or -EINVAL when the callback raised (lua_engine_last_error). */
enum { LUA_CONN_OPENED = 1, LUA_CONN_CLOSED = 2 };
int lua_engine_conn_event(struct lua_engine *le, uint32_t conn_id, int what, const char *why);
int lua_engine_session_start(struct lua_engine *le, uint32_t conn_id);
int lua_engine_session_resume(struct lua_engine *le, uint32_t conn_id, int reason);
/* The session yielded with no wait armed (a bare coroutine.yield()): nothing
 * would resume it. Drops it and returns -EINVAL, lua_engine_last_error
 * naming the file:line where it yielded. */
int lua_engine_session_stray(struct lua_engine *le, uint32_t conn_id);

/* Bytes the Lua state holds now. stop_gc also stops the collector, so that
 * what a stretch of calls allocates shows as growth (allocation probes). */
size_t lua_engine_heap_bytes(struct lua_engine *le, bool stop_gc);

/* Once a second, between calls: a bounded step of the collector, as much
 * work as LUA_ENGINE_GC_TICK_KB of allocation would pay for. LuaJIT paces
 * its collector by allocation alone and lets the heap reach twice what a
 * cycle left alive before starting the next: a session protocol that
 * allocates a few KB a second (RTSP readers) took minutes per cycle, and
 * each cycle's new peak touched more of the arena (the worker grew 2-7
 * MB/hour over a 4-minute soak). Stepped by time as well, a cycle ends
 * within seconds and the heap stays near what is alive; at high rates the
 * allocation-paced steps dwarf it. */
#ifndef LUA_ENGINE_GC_TICK_KB
#define LUA_ENGINE_GC_TICK_KB 64
#endif
void lua_engine_gc_tick(struct lua_engine *le);

/* Last error message (file:line and traceback) for logging. */
const char *lua_engine_last_error(struct lua_engine *le);

#endif
