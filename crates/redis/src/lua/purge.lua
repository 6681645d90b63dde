-- ARGV: now batch. Deletes up to batch ended sessions, and expired feed entries. A session
-- whose end moved since it was indexed (refreshes and activity do not re-index) is indexed
-- anew instead. Returns how many sessions were deleted.
local now = tonumber(ARGV[1])
local deleted = 0
local due = redis.call('ZRANGEBYSCORE', k('purge'), '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local sep = string.find(member, '|', 1, true)
  local sid, user = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
  local s = state(k('s', sid))
  if live(s, now) then
    index(sid, s)
  else
    redis.call('DEL', k('s', sid))
    redis.call('ZREM', k('u', user), sid)
    redis.call('ZREM', k('purge'), member)
    deleted = deleted + 1
  end
end
for _, entry in ipairs(redis.call('ZRANGE', k('feed'), 0, tonumber(ARGV[2]) - 1)) do
  local until_ms = tonumber(string.match(entry, '|([^|]*)$'))
  if until_ms > tonumber(ARGV[1]) then break end
  redis.call('ZREM', k('feed'), entry)
end
return deleted
