-- ARGV: now batch. Takes up to batch entries filed under minutes that have begun, deletes the
-- sessions that ended, files anew those whose end moved since (refreshes and activity do not
-- re-file), and drops entries left behind by a move; then deletes expired feed entries.
-- Returns {deleted, progress, more} (see purge_every_slot in store.rs): the sessions deleted,
-- the entries taken off the index for good (not those put back: live sessions ending later
-- in the current minute), and 1 if it stopped before running out of due entries.
local now, budget = tonumber(ARGV[1]), tonumber(ARGV[2])
local deleted, progress = 0, 0
local minutes = redis.call('ZRANGEBYSCORE', k('e'), '-inf', minute(now), 'LIMIT', 0, 100)
local more = #minutes == 100 and 1 or 0
-- What became of the session an entry of minute `m` files: 'stale', 'again' (put back) or
-- 'deleted'; nil when it was filed anew or is gone (a hash that expired natively: its user's
-- index is tidied when next read).
local function settle(entry, m)
  local id = id_of(entry)
  local s = load(id)
  if s and s.bucket ~= m then return 'stale' end -- filed elsewhere since
  if live(s, now) then
    if minute(ends(s)) == m then return 'again' end
    s.bucket = nil -- taken off its list
    index(id, s)
    save(id, s)
  elseif s then
    delete(id, s)
    drop_session(s.user, id)
    return 'deleted'
  end
end
for _, m in ipairs(minutes) do
  local list = k('e', m)
  local taken = redis.call('LPOP', list, budget) or {}
  local again, stale = {}, 0
  for _, entry in ipairs(taken) do
    -- An entry that fails (a record this version cannot read) goes back on its list: taken
    -- off, nothing would ever delete its session.
    local ok, outcome = pcall(settle, entry, m)
    if not ok then
      redis.log(redis.LOG_WARNING, 'tessera purge kept an entry it could not settle: ' ..
        tostring(outcome and (outcome.err or outcome)))
      outcome = 'again'
    end
    if outcome == 'stale' then stale = stale + 1
    elseif outcome == 'again' then table.insert(again, entry)
    elseif outcome == 'deleted' then deleted = deleted + 1 end
  end
  if #again > 0 then redis.call('RPUSH', list, unpack(again)) end
  progress = progress + #taken - #again
  if redis.call('LLEN', list) == 0 then
    redis.call('ZREM', k('e'), m)
    redis.call('HDEL', k('er'), m)
  elseif stale > 0 then
    redis.call('HINCRBY', k('er'), m, -stale)
  end
  budget = budget - #taken
  if budget <= 0 then
    more = 1
    break
  end
end
for _, entry in ipairs(redis.call('ZRANGE', k('feed'), 0, tonumber(ARGV[2]) - 1)) do
  local until_ms = tonumber(string.match(entry, '|([^|]*)$'))
  if until_ms > now then break end
  redis.call('ZREM', k('feed'), entry)
end
return {deleted, progress, more}
