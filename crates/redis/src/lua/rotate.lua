-- ARGV: sid expected_gen new_gen refresh last_seen idle. 0 gone, 1 conflict, 2 rotated.
local h = k('s', ARGV[1])
if redis.call('EXISTS', h) == 0 then return 0 end
if is_revoked(h) or redis.call('HGET', h, 'g') ~= ARGV[2] then return 1 end
redis.call('HSET', h, 'g', ARGV[3], 'ls', ARGV[5], 'i', ARGV[6], unpack(refresh_fields(ARGV[4])))
reindex(ARGV[1])
return 2
