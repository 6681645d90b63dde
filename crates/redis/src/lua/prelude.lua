-- Shared helpers, prepended to every script. Every key lives under the hash tag in KEYS[1]
-- (a shard's, e.g. "{tessera:7:123}", or the global "{tessera}"), so each script touches one
-- Cluster slot. Numbers are written with
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

-- The fields the rules read, in one call; nil when the session is gone.
local function state(h)
  local f = redis.call('HMGET', h, 'u', 'i', 'a', 'ra', 'g', 'rc', 'ls', 'rn')
  if not f[1] then return nil end
  return {user = f[1], idle = tonumber(f[2]), abs = tonumber(f[3]),
    revoked = f[4] and tonumber(f[4]), gen = f[5], current = f[6], seen = tonumber(f[7]),
    refreshes = tonumber(f[8] or '0')}
end
local function live(s, now) return s ~= nil and not s.revoked and now < s.idle and now < s.abs end
local function is_live(h, now) return live(state(h), now) end

-- The purge index scores a session by when it ends; its native expiry is an hour past its
-- absolute end (which never moves, so refreshes need not touch it) or past its revocation.
-- Both follow the session's own timestamps (relative, so they are right whatever clock the
-- caller uses).
local function index(sid, s)
  local score = math.min(s.idle, s.abs)
  if s.revoked then score = math.min(score, s.revoked) end
  redis.call('ZADD', k('purge'), int(score), sid .. '|' .. s.user)
  local ends = s.revoked and score or s.abs
  redis.call('PEXPIRE', k('s', sid), int(math.max(1, ends - s.seen) + SLACK))
end
local function reindex(sid) index(sid, state(k('s', sid))) end

-- Appends to this slot's feed; announces it (on the slot's sharded channel, so only the nodes
-- following this shard hear it) unless told the caller announces once for several.
local function feed(kind, target, until_ms, quiet)
  local seq = redis.call('INCR', k('feed', 'seq'))
  redis.call('ZADD', k('feed'), seq, seq .. '|' .. kind .. '|' .. target .. '|' .. until_ms)
  if not quiet then redis.call('SPUBLISH', k('revocations'), seq) end
  return seq
end

-- A session whose id names this shard but which lives in another (an id made before shards, or
-- for another user): the error that sends the caller there, or nil.
local function elsewhere(sid)
  local shard = redis.call('GET', k('m', sid))
  if shard then return redis.error_reply('TESSERA_ELSEWHERE ' .. shard) end
end

local function revoke(sid, reason, at, until_ms, quiet)
  local h = k('s', sid)
  local s = state(h)
  if not s or s.revoked then return false end
  redis.call('HSET', h, 'ra', at, 'rr', reason)
  s.revoked = tonumber(at)
  index(sid, s)
  feed(0, sid, until_ms, quiet)
  return s.user
end

-- GCRA in microseconds, on a stored theoretical arrival time (nil: none yet).
-- {allowed, remaining, reset_after_us, retry_after_us}, and the time to store when allowed.
local function gcra_step(tat, T, burst, now)
  local tolerance = T * (burst - 1)
  tat = tonumber(tat or now)
  if tat < now then tat = now end
  local backlog = tat - now
  if backlog > tolerance then return {0, 0, int(backlog), int(backlog - tolerance)}, nil end
  local nxt = tat + T
  local reset = nxt - now
  return {1, math.floor((T * burst - reset) / T), int(reset), 0}, nxt
end

-- GCRA on a key of its own, which expires once the rate is whole again.
local function gcra(name, T, burst, now)
  local key = k('rl', name)
  local decision, nxt = gcra_step(redis.call('GET', key), T, burst, now)
  if nxt then
    redis.call('SET', key, int(nxt), 'PX', int(math.max(1, math.ceil((nxt - now) / 1000))))
  end
  return decision
end

-- Appends an audit event (its JSON, time and user, '' for none); returns its id.
local function audit(json, at, user)
  local id = redis.call('INCR', k('audit', 'seq'))
  redis.call('HSET', k('audit'), id, json)
  redis.call('ZADD', k('audit', 't'), at, id)
  if user ~= '' then redis.call('ZADD', k('audit', 'u', user), id, id) end
  return id
end
