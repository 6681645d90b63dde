-- For `tessera migrate`: a session of the legacy layout (a hash), moved into this (its user's)
-- shard as a record, with its places in the user's index and the purge index. Moving it again
-- changes nothing.
-- ARGV: id user field value ... (the id as its 16 bytes)
local id, user = ARGV[1], ARGV[2]
local s = from_fields({unpack(ARGV, 3)})
s.bucket, s.hashed = nil, nil
local before = redis.call('HGET', records(id), id)
if before then s.bucket = decode(before).bucket end
index(id, s)
save(id, s)
local u, known = user_of(user), false
for _, m in ipairs(ids_of(u.sessions)) do if m == id then known = true end end
if not known then
  u.sessions = u.sessions .. id
  set_user(user, u)
end
return 1
