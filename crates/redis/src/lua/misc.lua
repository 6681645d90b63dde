-- Small atomic steps, by ARGV[1]:
--   init name value         -> the stored value (set only if absent)
--   save_keyset expected doc -> 1 saved / 0 stale (expected '' = nothing stored yet)
local op = ARGV[1]
if op == 'init' then
  redis.call('SET', k('set', ARGV[2]), ARGV[3], 'NX')
  return redis.call('GET', k('set', ARGV[2]))
elseif op == 'save_keyset' then
  local current = redis.call('HGET', k('keyset'), 'version')
  if (ARGV[2] == '' and current) or (ARGV[2] ~= '' and current ~= ARGV[2]) then return 0 end
  local next_version = ARGV[2] == '' and 1 or tonumber(ARGV[2]) + 1
  redis.call('HSET', k('keyset'), 'version', int(next_version), 'document', ARGV[3])
  return 1
end
return redis.error_reply('unknown operation ' .. op)
