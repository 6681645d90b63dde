-- Shared helpers, prepended to every script. Every key lives under the hash tag in KEYS[1]
-- (e.g. "{tessera}"), so each script touches one Cluster slot. Numbers are written with
-- string.format('%d') because Lua's default formatting would round large integers.
local P = KEYS[1]
local function k(...) return P .. ':' .. table.concat({...}, ':') end
local function int(n) return string.format('%d', n) end
local SLACK = 3600000 -- keep an ended session an hour past its end for purge and audit

-- The refresh state arrives packed as "current|previous|rotated_at"; it is stored as three short
-- fields so a session hash stays in Redis's compact listpack encoding (values of 64 bytes or less).
local function refresh_fields(packed)
  local cur, prev, rot = string.match(packed, '^([^|]*)|([^|]*)|([^|]*)$')
  return {'rc', cur, 'rp', prev, 'rt', rot}
end

local function num(h, field) return tonumber(redis.call('HGET', h, field)) end
local function is_revoked(h) return redis.call('HEXISTS', h, 'ra') == 1 end
local function is_live(h, now)
  return redis.call('EXISTS', h) == 1 and not is_revoked(h) and now < num(h, 'i') and now < num(h, 'a')
end

-- Purge index score and native expiry follow the session's own timestamps (relative, so they
-- are right whatever clock the caller uses).
local function reindex(sid)
  local h = k('s', sid)
  local user = redis.call('HGET', h, 'u')
  local ends = math.min(num(h, 'i'), num(h, 'a'))
  local score = ends
  local revoked = redis.call('HGET', h, 'ra')
  if revoked then score = math.min(score, tonumber(revoked)) end
  redis.call('ZADD', k('purge'), int(score), sid .. '|' .. user)
  redis.call('PEXPIRE', h, int(math.max(1, ends - num(h, 'ls')) + SLACK))
end

local function feed(kind, target, until_ms)
  local seq = redis.call('INCR', k('feed', 'seq'))
  redis.call('ZADD', k('feed'), seq, seq .. '|' .. kind .. '|' .. target .. '|' .. until_ms)
  redis.call('PUBLISH', k('revocations'), seq)
  return seq
end

local function revoke(sid, reason, at, until_ms)
  local h = k('s', sid)
  if redis.call('EXISTS', h) == 0 or is_revoked(h) then return false end
  redis.call('HSET', h, 'ra', at, 'rr', reason)
  reindex(sid)
  feed(0, sid, until_ms)
  return redis.call('HGET', h, 'u')
end

-- GCRA in microseconds: {allowed, remaining, reset_after_us, retry_after_us}; state written only
-- when allowed.
local function gcra(name, T, burst, now)
  local key = k('rl', name)
  local tolerance = T * (burst - 1)
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local backlog = tat - now
  if backlog > tolerance then return {0, 0, int(backlog), int(backlog - tolerance)} end
  local nxt = tat + T
  redis.call('SET', key, int(nxt), 'PX', int(math.max(1, math.ceil((nxt - now) / 1000))))
  local reset = nxt - now
  return {1, math.floor((T * burst - reset) / T), int(reset), 0}
end

-- Appends an audit event (its JSON, time and user, '' for none); returns its id.
local function audit(json, at, user)
  local id = redis.call('INCR', k('audit', 'seq'))
  redis.call('HSET', k('audit'), id, json)
  redis.call('ZADD', k('audit', 't'), at, id)
  if user ~= '' then redis.call('ZADD', k('audit', 'u', user), id, id) end
  return id
end
