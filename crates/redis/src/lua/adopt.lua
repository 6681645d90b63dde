-- For `tessera migrate`: a session of the legacy layout, moved into this (its user's) shard with
-- every field as it was, its remaining lifetime, and its places in the user's index and the
-- purge index. Moving it again changes nothing.
-- ARGV: sid user pttl_ms field value ...
local sid, user = ARGV[1], ARGV[2]
local h = k('s', sid)
redis.call('DEL', h)
redis.call('HSET', h, unpack(ARGV, 4))
redis.call('HDEL', h, 'e')
local s = state(h)
index(sid, s)
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', h, ARGV[3]) end
local known = false
for _, m in ipairs(sessions_of(user)) do if m == sid then known = true end end
if not known then add_session(user, sid) end
return 1
