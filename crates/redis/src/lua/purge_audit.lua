-- ARGV: cutoff batch. Deletes up to batch events recorded before cutoff, oldest first, and
-- their users' index entries (the oldest of each user's). Returns {deleted, progress, more}
-- (see purge_every_slot in store.rs).
-- '(at-0': an id's time alone would stand for its last sequence number, taking the cutoff's own
-- millisecond in.
local entries = redis.call('XRANGE', k('a'), '-', '(' .. ARGV[1] .. '-0', 'COUNT', tonumber(ARGV[2]))
local per_user = {}
for _, e in ipairs(entries) do
  local user = e[2][2]
  if user ~= '' then per_user[user] = (per_user[user] or 0) + 1 end
  redis.call('XDEL', k('a'), e[1])
end
for user, n in pairs(per_user) do
  local u = user_of(user)
  u.events = string.sub(u.events, 8 * n + 1)
  set_user(user, u)
end
return {#entries, #entries, #entries == tonumber(ARGV[2]) and 1 or 0}
