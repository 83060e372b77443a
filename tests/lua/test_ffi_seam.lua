-- The C<->Lua seam: runtime.lua declares include/surge/ffi.h itself, as the
-- engine preloads it (the header run through the preprocessor), so LuaJIT's
-- ffi.cdef must take the header whole, and the constants Lua reads through
-- ffi.C are the header's.
local t = require "tap"
local ffi = require "ffi"

local cc = os.getenv("CC") or "cc"
local p = io.popen(cc .. " -E -P -DSURGE_FFI_CDEF include/surge/ffi.h")
local text = p:read("*a")
p:close()
t.ok(#text > 500 and text:find("surge_conn_peek", 1, true), "the preprocessed header has the declarations")
t.ok(not text:find("#define", 1, true), "no macros survive: constants are enums Lua can read")

package.loaded["surge.cdef"] = text
local ok, err = pcall(require, "surge.runtime")
t.ok(ok, "runtime.lua loads with the header as its cdef")
if not ok then t.diag(tostring(err)) end

local C = ffi.C
t.is(C.SURGE_REQBUF_SIZE, 65536, "request buffer capacity comes from the header")
t.is(C.SURGE_WAIT_READ, 1, "wait codes from the header")
t.is(C.SURGE_WAKE_CLOSED, 4, "wake codes from the header")
t.is(C.SURGE_CLOSED_LOCAL, 101, "close codes from the header")
t.is(C.SURGE_ERR__COUNT, 13, "thirteen error classes, as the report has")
t.is(ffi.sizeof("struct surge_ctx"), 40, "struct surge_ctx as C lays it out (3 u32, padding, 2 doubles, a pointer)")
t.done()
