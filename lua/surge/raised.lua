-- What error(value) raised, said for people when the value is not a string:
-- Lua adds no file:line to those and prints a table as its address. The
-- scenario loader and the protocol callbacks (runtime.lua) both say it so.
local M = {}

local fmt = string.format

-- A value for people: { code = 1, why = "x" }, nested tables as {...}, a
-- function (userdata, cdata) as <function>: never an address.
local function show(v)
  local t = type(v)
  if t == "string" then return fmt("%q", v) end
  if t == "number" or t == "boolean" or t == "nil" then return tostring(v) end
  if t ~= "table" then return "<" .. t .. ">" end
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__tostring then
    local ok, s = pcall(tostring, v)
    return ok and type(s) == "string" and s or "<table>"
  end
  local ks = {}
  for k in pairs(v) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for i, k in ipairs(ks) do
    if i > 8 then parts[#parts + 1] = "..."; break end
    local x = v[k]
    x = type(x) == "table" and "{...}" or show(x)
    parts[#parts + 1] = type(k) == "string" and k:match("^[%a_][%w_]*$") and (k .. " = " .. x)
      or ("[" .. (type(k) == "table" and "{...}" or show(k)) .. "] = " .. x)
  end
  return #parts == 0 and "{}" or ("{ " .. table.concat(parts, ", ") .. " }")
end
M.show = show

-- "raised the table { code = 1 } instead of an error message: ..." for a
-- value e that is not a string. A table's own __tostring speaks for it; one
-- that fails, or a function, userdata or cdata, is named by its type only:
-- an address tells nobody anything.
function M.what(e)
  if e == nil then
    return "raised an error with no message (error() with no value): give error a string "
      .. "saying what went wrong"
  end
  local mt = getmetatable(e)
  local said
  if type(e) == "table" and type(mt) == "table" and mt.__tostring then
    said = "a table that prints as " .. show(e)
  elseif type(e) == "table" then
    said = "the table " .. show(e)
  elseif type(e) == "boolean" or type(e) == "number" then
    said = "the value " .. tostring(e)
  else
    said = "a " .. type(e)
  end
  return "raised " .. said .. " instead of an error message: give error a string saying what "
    .. "went wrong"
end

return M
