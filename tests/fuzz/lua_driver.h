/*
 * lua_driver: runs surge's Lua parsers on fuzz input, for the fuzz_lua_*
 * harnesses. One LuaJIT state per process loads lua/ of this checkout; a
 * harness's chunk returns function(s, p, len): s the input as a string, p an
 * FFI pointer to a copy of it that ends against a PROT_NONE page, so a
 * parser reading past the end faults at once instead of reading stale
 * bytes. The chunk gets guard(str) -> p, len to place any string (one
 * packet of several) there the same way. A Lua error, like a crash, is a
 * finding: parsers promise nil, err for bad input, never an error.
 */
#ifndef SURGE_FUZZ_LUA_DRIVER_H
#define SURGE_FUZZ_LUA_DRIVER_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

/* The guarded region: cap bytes, then one inaccessible page. */
static uint8_t *guard_base;
static size_t guard_cap;

static uint8_t *guard_place(const void *data, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (size > guard_cap || !guard_base) {
		if (guard_base)
			munmap(guard_base, guard_cap + page);
		guard_cap = (size + page) / page * page;
		guard_base = mmap(NULL, guard_cap + page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		FUZZ_CHECK(guard_base != MAP_FAILED);
		FUZZ_CHECK(mprotect(guard_base + guard_cap, page, PROT_NONE) == 0);
	}
	uint8_t *p = guard_base + guard_cap - size;
	memcpy(p, data, size);
	return p;
}

/* guard(str) -> lightuserdata, #str */
static int lua_guard(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	lua_pushlightuserdata(L, guard_place(s, len));
	lua_pushinteger(L, (lua_Integer)len);
	return 2;
}

/* Coverage of the Lua code for libFuzzer, which sees only C edges (LuaJIT
 * is not instrumented): a line hook counts each (previous line, line) pair
 * of every chunk in libFuzzer's extra counters, so inputs that reach new
 * Lua lines join the corpus. The hook keeps LuaJIT in its interpreter;
 * under replay_main nothing reads the counters. */
#define FUZZ_LUA_EDGES 65536
__attribute__((used, section("__libfuzzer_extra_counters")))
static uint8_t lua_edges[FUZZ_LUA_EDGES];
static uintptr_t lua_prev;

static void lua_line_hook(lua_State *L, lua_Debug *ar)
{
	if (!lua_getinfo(L, "S", ar))
		return;
	/* A chunk's source string is interned: its address names the chunk. */
	uintptr_t here = ((uintptr_t)ar->source * 31) ^ (uintptr_t)ar->currentline;
	uintptr_t edge = (here ^ (lua_prev >> 1)) * 0x9e3779b97f4a7c15u;
	lua_edges[(edge >> 48) % FUZZ_LUA_EDGES]++;
	lua_prev = here;
}

static int traceback(lua_State *L)
{
	luaL_traceback(L, L, lua_tostring(L, 1), 1);
	return 1;
}

static lua_State *fuzz_L;
static int fuzz_fn;

/* Loads chunk once; it is called with guard and returns the function. */
static void fuzz_lua_init(const char *name, const char *chunk)
{
	const char *dir = getenv("SURGE_SRC") ? getenv("SURGE_SRC") : FUZZ_SRCDIR;
	char path[4096];

	fuzz_L = luaL_newstate();
	FUZZ_CHECK(fuzz_L != NULL);
	luaL_openlibs(fuzz_L);
	lua_getglobal(fuzz_L, "package");
	snprintf(path, sizeof(path), "%s/lua/?.lua;%s/lua/?/init.lua", dir, dir);
	lua_pushstring(fuzz_L, path);
	lua_setfield(fuzz_L, -2, "path");
	lua_pop(fuzz_L, 1);
	lua_pushcfunction(fuzz_L, traceback);
	if (luaL_loadbuffer(fuzz_L, chunk, strlen(chunk), name) != 0) {
		fprintf(stderr, "%s: %s\n", name, lua_tostring(fuzz_L, -1));
		abort();
	}
	lua_pushcfunction(fuzz_L, lua_guard);
	if (lua_pcall(fuzz_L, 1, 1, -3) != 0 || !lua_isfunction(fuzz_L, -1)) {
		fprintf(stderr, "%s: %s (is SURGE_SRC the checkout?)\n", name,
			lua_tostring(fuzz_L, -1));
		abort();
	}
	fuzz_fn = luaL_ref(fuzz_L, LUA_REGISTRYINDEX);
	lua_pop(fuzz_L, 1);
	lua_sethook(fuzz_L, lua_line_hook, LUA_MASKLINE, 0);
}

static void fuzz_lua_run(const uint8_t *data, size_t size)
{
	lua_State *L = fuzz_L;
	int top = lua_gettop(L);

	lua_pushcfunction(L, traceback);
	lua_rawgeti(L, LUA_REGISTRYINDEX, fuzz_fn);
	lua_pushlstring(L, (const char *)data, size);
	lua_pushlightuserdata(L, guard_place(data, size));
	lua_pushinteger(L, (lua_Integer)size);
	lua_prev = 0;
	if (lua_pcall(L, 3, 0, top + 1) != 0) {
		fprintf(stderr, "Lua error: %s\n", lua_tostring(L, -1));
		abort();
	}
	lua_settop(L, top);
}

#define FUZZ_LUA_HARNESS(name, chunk)                                                       \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                        \
	{                                                                                   \
		if (!fuzz_L)                                                                \
			fuzz_lua_init(name, chunk);                                         \
		fuzz_lua_run(data, size);                                                   \
		return 0;                                                                   \
	}

#endif
