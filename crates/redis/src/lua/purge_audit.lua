-- ARGV: cutoff batch. Deletes up to batch events recorded before cutoff, oldest first, and
-- their ids in their users' fields. Returns {deleted, progress, more}
-- (see purge_every_slot in store.rs).
-- '(at-0': an id's time alone would stand for its last sequence number, taking the cutoff's own
-- millisecond in.
local entries = redis.call('XRANGE', k('a'), '-', '(' .. ARGV[1] .. '-0', 'COUNT',
  tonumber(ARGV[2]))
local newest = {} -- user -> the id of the user's newest event deleted, as {time, number}
for _, e in ipairs(entries) do
  local user = e[2][2]
  if user ~= '' then newest[user] = {event_id(e[1])} end
  redis.call('XDEL', k('a'), e[1])
end
-- Each user's field drops its ids up to that one, whatever it lists (not a count of them: an
-- id it lists that the stream does not hold must not keep a newer one's place).
for user, last in pairs(newest) do
  local u = user_of(user)
  local n, i = #u.events / 8, 0
  while i < n do
    local at, seq = event_at(u.events, i + 1)
    if earlier(last[1], last[2], at, seq) then break end
    i = i + 1
  end
  u.events = string.sub(u.events, 8 * i + 1)
  set_user(user, u)
end
return {#entries, #entries, #entries == tonumber(ARGV[2]) and 1 or 0}
