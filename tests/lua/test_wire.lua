-- surge.wire: big-endian get/put on FFI buffers, round trips at the edges;
-- surge.counter/histogram handles check their name where declared.
local t = require "tap"
local ffi = require "ffi"
local surge = require "surge"
local wire = surge.wire

local b = ffi.new("uint8_t[16]")
ffi.copy(b, "\1\2\3\4\5\6\7\8\255\254\253\252\251\250\249\248", 16)
t.is(wire.u8(b, 8), 255, "u8")
t.is(wire.u16(b, 0), 0x0102, "u16")
t.is(wire.u32(b, 0), 0x01020304, "u32")
t.is(wire.u32(b, 8), 0xfffefdfc, "u32 with the top bit set: a positive number")
t.ok(wire.u64(b, 0) == 0x0102030405060708ULL, "u64 as uint64_t")
t.ok(wire.u64(b, 8) == 0xfffefdfcfbfaf9f8ULL, "u64 with the top bit set, exact")
local c = ffi.new("uint8_t[16]")
wire.put_u8(c, 0, 0xab); wire.put_u16(c, 1, 0xbeef); wire.put_u32(c, 3, 0xdeadbeef)
wire.put_u64(c, 7, 0xfffefdfcfbfaf9f8ULL)
t.is(ffi.string(c, 15), "\171\190\239\222\173\190\239\255\254\253\252\251\250\249\248", "put round trip")
t.is(wire.u32(c, 3), 0xdeadbeef, "put_u32 then u32")
wire.put_u16(c, 0, 65535)
t.is(wire.u16(c, 0), 65535, "u16 max")
wire.put_u64(c, 0, 2^63); wire.put_u32(c, 8, 0xffffffff)
t.ok(wire.u64(c, 0) == 0x8000000000000000ULL and wire.u32(c, 8) == 0xffffffff,
  "the largest values fit: 2^63 as a number, u32 max")
wire.put_u64(c, 0, ffi.new("int64_t", 5))
t.ok(wire.u64(c, 0) == 5ULL, "put_u64 takes a non-negative int64_t")

-- Out of range, negative or not an integer: an error naming the call at the
-- caller's line, never bytes written modulo the width (put_u64(-1) wrote
-- 80 00 .. 00, put_u32(-1) ff ff ff ff); nothing is written.
for _, bad in ipairs {
  { "put_u8", 256 }, { "put_u8", -1 }, { "put_u16", 65536 }, { "put_u16", 1.5 },
  { "put_u32", -1 }, { "put_u32", 2^32 + 7 }, { "put_u32", 0/0 },
  { "put_u32", ffi.new("int64_t", -1) }, { "put_u32", 0x100000000ULL },
  { "put_u64", -1 }, { "put_u64", 2^64 }, { "put_u64", 1/0 }, { "put_u64", 2.5 },
  { "put_u64", ffi.new("int64_t", -2) }, { "put_u64", "7" },
} do
  ffi.fill(c, 16, 0x5a)
  local line = debug.getinfo(1, "l").currentline + 1
  local ok2, e = pcall(function() wire[bad[1]](c, 0, bad[2]) end)
  t.ok(not ok2 and tostring(e):find("test_wire.lua:" .. line .. ": surge.wire." .. bad[1], 1, true)
    and c[0] == 0x5a, ("%s(%s): an error at the caller's line, nothing written: %s")
    :format(bad[1], tostring(bad[2]), tostring(e)))
end

-- Not a number at all (a string from a header, nil from a missing field, a
-- table): the same error at the caller's line naming the put and what it got
-- by type, where comparing it raised "attempt to compare" inside wire.lua.
-- A number cdata in range (a u64 read back) is still written.
for _, bad in ipairs {
  { "put_u8", "7", 'the value is a string ("7")' }, { "put_u16", nil, "the value is nil" },
  { "put_u32", {}, "the value is a table," }, { "put_u8", true, "the value is a boolean" },
  { "put_u16", c, "the value is a cdata," }, { "put_u64", c, "the value is a cdata," },
  { "put_u32", print, "the value is a function," },
} do
  ffi.fill(c, 16, 0x5a)
  local line = debug.getinfo(1, "l").currentline + 1
  local ok2, e = pcall(function() wire[bad[1]](c, 0, bad[2]) end)
  t.ok(not ok2 and tostring(e):find("test_wire.lua:" .. line .. ": surge.wire." .. bad[1] .. ": "
    .. bad[3], 1, true) and not tostring(e):find("0x", 1, true) and c[0] == 0x5a,
    ("%s(%s): an error at the caller's line naming the type: %s")
    :format(bad[1], type(bad[2]), tostring(e)))
end
wire.put_u32(c, 0, ffi.new("uint64_t", 0xdeadbeef)); wire.put_u8(c, 4, ffi.new("int64_t", 7))
t.ok(wire.u32(c, 0) == 0xdeadbeef and c[4] == 7, "a number cdata in range is written")

local ok_, err = pcall(function() local x = surge.counter("bad name"); return x end)
t.ok(not ok_ and tostring(err):find("test_wire.lua:%d+: surge.counter"), "a bad counter name: error at its line: " .. tostring(err))
local h = surge.counter("rtsp.lost")
t.is(surge.declared["rtsp.lost"], "counter", "a declared counter is listed")
h:add() -- outside a worker: a no-op, not an error
t.ok(true, "add outside a worker is a no-op")
t.done()
