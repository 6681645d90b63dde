-- ARGV: user before ('' or an id 'ms-seq') limit. {id, json, id, json, ...}, newest first.
-- Reads the user's index from its newest end, only as far as the page goes.
local bm, bs
if ARGV[2] ~= '' then bm, bs = event_id(ARGV[2]) end
local out, limit = {}, tonumber(ARGV[3])
local n, entry = audit_index(ARGV[1])
for i = n, 1, -1 do
  if #out >= 2 * limit then break end
  local ms, seq = entry(i)
  if not bm or earlier(ms, seq, bm, bs) then
    local id = int(ms) .. '-' .. int(seq)
    local found = redis.call('XRANGE', k('a'), id, id)[1]
    if found and found[2][2] == ARGV[1] then -- the user's own, whatever the index says
      table.insert(out, id)
      table.insert(out, found[2][4])
    end
  end
end
return out
