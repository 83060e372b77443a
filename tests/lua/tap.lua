-- Minimal TAP producer for Lua tests (run by tests/lua/run under luajit).
local M = {}
local n, failed = 0, 0

function M.ok(cond, name)
  n = n + 1
  if not cond then failed = failed + 1 end
  io.write((cond and "ok " or "not ok ") .. n .. " - " .. tostring(name) .. "\n")
  return cond
end

function M.is(got, want, name)
  local good = got == want
  M.ok(good, name)
  if not good then
    io.write("#   got:  " .. tostring(got) .. "\n#   want: " .. tostring(want) .. "\n")
  end
  return good
end

function M.diag(s) io.write("# " .. tostring(s) .. "\n") end

function M.done()
  io.write("1.." .. n .. "\n")
  os.exit(failed == 0 and 0 or 1)
end

return M
