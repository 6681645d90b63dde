-- For `tessera migrate`: a session of the legacy layout, moved into this (its user's) shard with
-- every field as it was, its remaining lifetime, its place in the user's index and the purge
-- index. Moving it again changes nothing.
-- ARGV: sid user purge_score pttl_ms field value ...
local sid, user = ARGV[1], ARGV[2]
local h = k('s', sid)
redis.call('DEL', h)
redis.call('HSET', h, unpack(ARGV, 5))
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', h, ARGV[4]) end
redis.call('ZADD', k('u', user), redis.call('HGET', h, 'c'), sid)
redis.call('ZADD', k('purge'), ARGV[3], sid .. '|' .. user)
return 1
