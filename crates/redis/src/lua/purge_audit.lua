-- ARGV: cutoff batch. Deletes up to batch events recorded before cutoff, oldest first, and
-- their users' index entries (the oldest of each user's). Returns {deleted, progress, more}
-- (see purge_every_slot in store.rs).
local entries = redis.call('XRANGE', k('a'), '-', '(' .. ARGV[1], 'COUNT', tonumber(ARGV[2]))
local per_user = {}
for _, e in ipairs(entries) do
  local user = e[2][2]
  if user ~= '' then per_user[user] = (per_user[user] or 0) + 1 end
  redis.call('XDEL', k('a'), e[1])
end
for user, n in pairs(per_user) do
  local index = audit_key(user)
  local rest = redis.call('HGET', index, user) or ''
  for _ = 1, n do
    local comma = string.find(rest, ',', 1, true)
    if not comma then break end
    rest = string.sub(rest, comma + 1)
  end
  if rest == '' then redis.call('HDEL', index, user) else redis.call('HSET', index, user, rest) end
end
return {#entries, #entries, #entries == tonumber(ARGV[2]) and 1 or 0}
