-- ARGV: id user created last_seen idle abs gen current previous rotated claims data ip label
--       cookie version limit_max limit_mode now evict_at evict_until user_agent sid
--       [audit_event audit_at audit_user]
-- (the id and hashes as their bytes, previous and cookie '' for none, data '' for null; sid
-- the id's 22 characters, which Lua takes microseconds to make).
-- {'exists'} | {'limit'} | {'created', evicted id...}
local id, user = ARGV[1], ARGV[2]
local sid = ARGV[23]
if stored(id, sid) or redis.call('EXISTS', k('m', sid)) == 1 then return {'exists'} end
local max, mode, now = tonumber(ARGV[17]), ARGV[18], tonumber(ARGV[19])
local evicted = {}
local u = user_of(user)
if max > 0 then
  local alive, known = {}, {}
  for _, m in ipairs(ids_of(u.sessions)) do
    local s = load(m)
    if s then table.insert(known, m) end
    if live(s, now) then table.insert(alive, {m, s}) end
  end
  if #alive >= max then
    if mode == 'deny' then return {'limit'} end
    for i = 1, #alive + 1 - max do
      revoke(alive[i][1], 'evicted', ARGV[20], ARGV[21], false, alive[i][2])
      table.insert(evicted, alive[i][1])
    end
  end
  table.insert(known, id)
  u.sessions = table.concat(known) -- without sessions that are gone, with this one
else
  u.sessions = u.sessions .. id
end
local s = {user = user, created = tonumber(ARGV[3]), seen = tonumber(ARGV[4]),
  idle = tonumber(ARGV[5]), abs = tonumber(ARGV[6]), rotated = tonumber(ARGV[10]),
  gen = tonumber(ARGV[7]), version = tonumber(ARGV[16]), refreshes = 0, current = ARGV[8],
  previous = ARGV[9], claims = ARGV[11], data = ARGV[12], ip = ARGV[13], label = ARGV[14],
  agent = '', agent_text = ARGV[22], from = '', reason = '', cookie = ARGV[15]}
index(id, s)
save(id, s)
if ARGV[24] then audit(ARGV[24], ARGV[25], ARGV[26], ARGV[26] == user and u or nil) end
set_user(user, u)
local out = {'created'}
for _, e in ipairs(evicted) do table.insert(out, e) end
return out
