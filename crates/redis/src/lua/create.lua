-- ARGV: sid user created last_seen idle abs gen refresh claims data device cookie version
--       limit_max limit_mode now evict_at evict_until [audit_json audit_at audit_user]
local sid, user = ARGV[1], ARGV[2]
local h = k('s', sid)
if redis.call('EXISTS', h) == 1 or redis.call('EXISTS', k('m', sid)) == 1 then return {'exists'} end
local max, mode, now = tonumber(ARGV[14]), ARGV[15], tonumber(ARGV[16])
local evicted = {}
if max > 0 then
  local alive = {}
  for _, m in ipairs(redis.call('ZRANGE', k('u', user), 0, -1)) do
    if is_live(k('s', m), now) then table.insert(alive, m) end
  end
  if #alive >= max then
    if mode == 'deny' then return {'limit'} end
    for i = 1, #alive + 1 - max do
      revoke(alive[i], 'evicted', ARGV[17], ARGV[18])
      table.insert(evicted, alive[i])
    end
  end
end
redis.call('HSET', h, 'u', user, 'c', ARGV[3], 'ls', ARGV[4], 'i', ARGV[5],
  'a', ARGV[6], 'g', ARGV[7], 'cl', ARGV[9], 'd', ARGV[10],
  'dv', ARGV[11], 'v', ARGV[13], unpack(refresh_fields(ARGV[8])))
if ARGV[12] ~= '' then redis.call('HSET', h, 'ck', ARGV[12]) end
redis.call('ZADD', k('u', user), ARGV[3], sid)
reindex(sid)
if ARGV[19] then audit(ARGV[19], ARGV[20], ARGV[21]) end
local out = {'created'}
for _, e in ipairs(evicted) do table.insert(out, e) end
return out
