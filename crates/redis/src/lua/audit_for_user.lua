-- ARGV: user before ('' or an id 'ms-seq') limit. {id, json, id, json, ...}, newest first.
local ids = audit_ids(ARGV[1])
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local bm, bs
if ARGV[2] ~= '' then bm, bs = parts(ARGV[2]) end
local out, limit = {}, tonumber(ARGV[3])
for i = #ids, 1, -1 do
  if #out >= 2 * limit then break end
  local ms, seq = parts(ids[i])
  if not bm or ms < bm or (ms == bm and seq < bs) then
    local entry = redis.call('XRANGE', k('a'), ids[i], ids[i])[1]
    if entry and entry[2][2] == ARGV[1] then -- the user's own, whatever the index says
      table.insert(out, ids[i])
      table.insert(out, entry[2][4])
    end
  end
end
return out
