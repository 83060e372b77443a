-- Keys of an options table checked against the ones that exist: a typo is
-- the commonest bad option, so the message says "did you mean" when one is
-- near, else lists the known keys. Shared by the scenario loader and the
-- protocol modules (whose tables are checked the same way).
local M = {}

-- Edit distance (Levenshtein).
function M.distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- "did you mean 'connections'?" for a near miss, else "known: a, b, c".
-- known: a set (keys are the names).
function M.suggest(unknown, known)
  local keys, best, best_d = {}, nil, 3
  for k in pairs(known) do
    keys[#keys + 1] = k
    if type(unknown) == "string" then
      local d = M.distance(unknown, k)
      if d < best_d then best, best_d = k, d end
    end
  end
  if best then return "did you mean '" .. best .. "'?" end
  table.sort(keys)
  return "known: " .. table.concat(keys, ", ")
end

-- The first key of t that known lacks, with the suggestion for it; nil
-- when every key is known. Keys are visited in sorted order, so the same
-- table always names the same key.
function M.unknown(t, known)
  local bad = {}
  for k in pairs(t) do
    if not known[k] then bad[#bad + 1] = tostring(k) end
  end
  if #bad == 0 then return nil end
  table.sort(bad)
  return bad[1], M.suggest(bad[1], known)
end

return M
