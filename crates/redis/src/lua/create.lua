-- ARGV: sid user created last_seen idle abs gen refresh claims data device cookie version
--       limit_max limit_mode now evict_at evict_until user_agent [audit_event audit_at audit_user]
-- (device without its user agent, which comes apart: see remember_agent)
local sid, user = ARGV[1], ARGV[2]
local h = k('s', sid)
if redis.call('EXISTS', h) == 1 or redis.call('EXISTS', k('m', sid)) == 1 then return {'exists'} end
local max, mode, now = tonumber(ARGV[14]), ARGV[15], tonumber(ARGV[16])
local evicted = {}
if max > 0 then
  local alive, known = {}, {}
  for _, m in ipairs(sessions_of(user)) do
    local s = state(k('s', m))
    if s then table.insert(known, m) end
    if live(s, now) then table.insert(alive, m) end
  end
  if #alive >= max then
    if mode == 'deny' then return {'limit'} end
    for i = 1, #alive + 1 - max do
      revoke(alive[i], 'evicted', ARGV[17], ARGV[18])
      table.insert(evicted, alive[i])
    end
  end
  table.insert(known, sid)
  set_sessions(user, known) -- without sessions that expired natively, with this one
else
  add_session(user, sid)
end
-- Fields at their default are left out (no previous token, rotated when created, null data),
-- so the hash stays small enough for Redis's compact encoding.
local fields = {'u', user, 'c', ARGV[3], 'ls', ARGV[4], 'i', ARGV[5], 'a', ARGV[6], 'g', ARGV[7],
  'cl', ARGV[9], 'dv', ARGV[11], 'v', ARGV[13]}
if ARGV[10] ~= 'null' then table.insert(fields, 'd'); table.insert(fields, ARGV[10]) end
local refresh = refresh_fields(ARGV[8])
for i = 1, #refresh, 2 do
  local name, value = refresh[i], refresh[i + 1]
  if not ((name == 'rp' and value == '') or (name == 'rt' and value == ARGV[3])) then
    table.insert(fields, name)
    table.insert(fields, value)
  end
end
if ARGV[12] ~= '' then
  table.insert(fields, 'ck')
  table.insert(fields, ARGV[12])
end
if ARGV[19] ~= '' then
  local lives = tonumber(ARGV[6]) - tonumber(ARGV[4]) + SLACK
  table.insert(fields, 'ua')
  table.insert(fields, remember_agent(ARGV[19], lives))
end
redis.call('HSET', h, unpack(fields))
-- Filed from what was just written, not read back.
index(sid, {user = user, idle = tonumber(ARGV[5]), abs = tonumber(ARGV[6]),
  seen = tonumber(ARGV[4])})
if ARGV[20] then audit(ARGV[20], ARGV[21], ARGV[22]) end
local out = {'created'}
for _, e in ipairs(evicted) do table.insert(out, e) end
return out
