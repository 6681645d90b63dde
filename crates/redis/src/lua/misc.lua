-- Small atomic steps, by ARGV[1]:
--   init name value         -> the stored value (set only if absent)
--   save_keyset expected doc -> 1 saved / 0 stale (expected '' = nothing stored yet)
--   point sid shard ttl_ms id -> 1 / 0 taken: this shard, which the id names, keeps a pointer
--                               to the shard that holds the session (see `elsewhere`), unless
--                               the id is taken here or points to another shard already
--   layout mark              -> mark, this version's layout (marking an empty deployment so,
--                               and one an older version marked 'sharded' (sessions stored as
--                               hashes) or 'records' (users' sessions and events in fields
--                               apart), which this version reads: an older node, which would
--                               misread what this one writes, then refuses to start); 'legacy':
--                               data an older Tessera wrote with every key under the global
--                               tag; or another version's mark, left as it is
-- and, for `tessera migrate`, on the global tag's legacy keys:
--   legacy_sessions n        -> up to n {sid, user, pttl, {HGETALL}}
--   forget sid user          -> deletes a moved session and its legacy index entries
--   legacy_audit cursor      -> {next_cursor, {user, {id, json, at, ...}}...}: users' events
--   forget_audit user ids... -> deletes moved events
--   legacy_leftovers cursor  -> the next cursor: deletes legacy user indexes (of sessions that
--                               expired natively) met on the way
--   mark mark                -> marks the deployment with this version's layout, unless a
--                               version this one does not know marked it; the mark
local op = ARGV[1]
-- The marks of older versions' layouts, which this version reads and takes over.
local OLDER = {sharded = true, records = true}
-- Whether `mark` is a layout this version does not know (a newer version's).
local function unknown(mark) return mark and mark ~= ARGV[2] and not OLDER[mark] end
if op == 'init' then
  redis.call('SET', k('set', ARGV[2]), ARGV[3], 'NX')
  return redis.call('GET', k('set', ARGV[2]))
elseif op == 'save_keyset' then
  local current = redis.call('HGET', k('keyset'), 'version')
  if (ARGV[2] == '' and current) or (ARGV[2] ~= '' and current ~= ARGV[2]) then return 0 end
  local next_version = ARGV[2] == '' and 1 or tonumber(ARGV[2]) + 1
  redis.call('HSET', k('keyset'), 'version', int(next_version), 'document', ARGV[3])
  return 1
elseif op == 'point' then
  local pointed = redis.call('GET', k('m', ARGV[2]))
  if stored(ARGV[5], ARGV[2]) or (pointed and pointed ~= ARGV[3]) then return 0 end
  redis.call('SET', k('m', ARGV[2]), ARGV[3], 'PX', ARGV[4])
  return 1
elseif op == 'layout' then
  local mark = redis.call('GET', k('set', 'layout'))
  if mark == ARGV[2] or unknown(mark) then return mark end
  if not mark then
    for _, key in ipairs({k('keyset'), k('purge'), k('audit', 't')}) do
      if redis.call('EXISTS', key) == 1 then return 'legacy' end
    end
  end
  redis.call('SET', k('set', 'layout'), ARGV[2])
  return ARGV[2]
elseif op == 'legacy_sessions' then
  local out = {}
  for _, member in ipairs(redis.call('ZRANGE', k('purge'), 0, tonumber(ARGV[2]) - 1)) do
    local sep = string.find(member, '|', 1, true)
    local sid = string.sub(member, 1, sep - 1)
    local h = k('s', sid)
    table.insert(out, {sid, string.sub(member, sep + 1), redis.call('PTTL', h),
      redis.call('HGETALL', h)})
  end
  return out
elseif op == 'forget' then
  redis.call('DEL', k('s', ARGV[2]))
  redis.call('ZREM', k('purge'), ARGV[2] .. '|' .. ARGV[3])
  redis.call('ZREM', k('u', ARGV[3]), ARGV[2])
  return 1
elseif op == 'legacy_audit' then
  local prefix = k('audit', 'u', '')
  local scan = redis.call('SCAN', ARGV[2], 'MATCH', prefix .. '*', 'COUNT', 100)
  local out = {scan[1]}
  for _, key in ipairs(scan[2]) do
    local events = {}
    for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
      local json = redis.call('HGET', k('audit'), id)
      if json then
        table.insert(events, id)
        table.insert(events, json)
        table.insert(events, redis.call('ZSCORE', k('audit', 't'), id) or '0')
      end
    end
    table.insert(out, {string.sub(key, #prefix + 1), events})
  end
  return out
elseif op == 'forget_audit' then
  for i = 3, #ARGV do
    redis.call('HDEL', k('audit'), ARGV[i])
    redis.call('ZREM', k('audit', 't'), ARGV[i])
  end
  redis.call('DEL', k('audit', 'u', ARGV[2]))
  return 1
elseif op == 'legacy_leftovers' then
  local scan = redis.call('SCAN', ARGV[2], 'MATCH', k('u', '*'), 'COUNT', 100)
  for _, key in ipairs(scan[2]) do redis.call('DEL', key) end
  return scan[1]
elseif op == 'mark' then
  local mark = redis.call('GET', k('set', 'layout'))
  if unknown(mark) then return mark end
  redis.call('SET', k('set', 'layout'), ARGV[2])
  return ARGV[2]
end
return redis.error_reply('unknown operation ' .. op)
