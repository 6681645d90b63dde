-- ARGV: user before ('' or an id 'ms-seq') limit. {id, json, id, json, ...}, newest first.
-- Reads the user's index from its newest end, only as far as the page goes.
local bm, bs
if ARGV[2] ~= '' then
  local ms, seq = string.match(ARGV[2], '^(%d+)-(%d+)$')
  bm, bs = tonumber(ms), tonumber(seq)
end
local out, limit = {}, tonumber(ARGV[3])
local packed = redis.call('HGET', audit_key(ARGV[1]), ARGV[1]) or ''
local compact = string.sub(packed, 1, 1) == '\0'
local ids = (not compact) and audit_ids(ARGV[1]) or nil -- as Tessera kept them before
for i = compact and (#packed - 1) / 8 or #ids, 1, -1 do
  if #out >= 2 * limit then break end
  local ms, seq
  if compact then
    ms, seq = struct.unpack('>I6I2', packed, 2 + (i - 1) * 8)
  else
    ms, seq = string.match(ids[i], '^(%d+)-(%d+)$')
    ms, seq = tonumber(ms), tonumber(seq)
  end
  if not bm or ms < bm or (ms == bm and seq < bs) then
    local id = int(ms) .. '-' .. int(seq)
    local entry = redis.call('XRANGE', k('a'), id, id)[1]
    if entry and entry[2][2] == ARGV[1] then -- the user's own, whatever the index says
      table.insert(out, id)
      table.insert(out, entry[2][4])
    end
  end
end
return out
