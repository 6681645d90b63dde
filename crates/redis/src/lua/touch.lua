-- ARGV: sid last_seen idle
local h = k('s', ARGV[1])
if redis.call('EXISTS', h) == 0 or is_revoked(h) then return 0 end
redis.call('HSET', h, 'ls', ARGV[2], 'i', ARGV[3])
reindex(ARGV[1])
return 1
