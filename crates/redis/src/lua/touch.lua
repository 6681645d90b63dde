-- ARGV: sid last_seen idle. Like a refresh, activity leaves the purge index and the native
-- expiry alone (see rotate.lua).
local h = k('s', ARGV[1])
local f = redis.call('HMGET', h, 'u', 'ra')
if not f[1] then return elsewhere(ARGV[1]) or 0 end
if f[2] then return 0 end
redis.call('HSET', h, 'ls', ARGV[2], 'i', ARGV[3])
return 1
