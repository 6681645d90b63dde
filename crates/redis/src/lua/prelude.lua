-- Shared helpers, prepended to every script. Every key lives under the hash tag in KEYS[1]
-- (a shard's, e.g. "{tessera:7:123}", or the global "{tessera}"), so each script touches one
-- Cluster slot. KEYS[2] is a key under it that is never written, declared so that Redis
-- refuses the script while a Cluster moves the slot (see `invocation` in store.rs). Numbers
-- are written with string.format('%d') because Lua's default formatting would round large
-- integers. A script gets only the definitions it uses (see scripts.rs),
-- and SLACK, how long an ended session is kept for purge and audit (SLACK_MS there).
local P = KEYS[1]
local function k(...) return P .. ':' .. table.concat({...}, ':') end
local function int(n) return string.format('%d', n) end

-- The refresh state arrives packed as "current|previous|rotated_at"; it is stored as three short
-- fields so a session hash stays in Redis's compact listpack encoding (values of 64 bytes or less).
local function refresh_fields(packed)
  local cur, prev, rot = string.match(packed, '^([^|]*)|([^|]*)|([^|]*)$')
  return {'rc', cur, 'rp', prev, 'rt', rot}
end

-- The fields the rules read, in one call; nil when the session is gone.
local function state(h)
  local f = redis.call('HMGET', h, 'u', 'i', 'a', 'ra', 'g', 'rc', 'ls', 'rn', 'e')
  if not f[1] then return nil end
  return {user = f[1], idle = tonumber(f[2]), abs = tonumber(f[3]),
    revoked = f[4] and tonumber(f[4]), gen = f[5], current = f[6], seen = tonumber(f[7]),
    refreshes = tonumber(f[8] or '0'), bucket = f[9]}
end
local function live(s, now) return s ~= nil and not s.revoked and now < s.idle and now < s.abs end
local function is_live(h, now) return live(state(h), now) end

-- A user's sessions, oldest first: their ids (22 characters each) end to end, in a field of
-- one of 16 hashes of the shard, so a user costs a field, not a key of its own.
local function by_user(name, user) return k(name, string.sub(redis.sha1hex(user), 1, 1)) end
local function user_key(user) return by_user('ux', user) end
local function sessions_of(user)
  local packed, out = redis.call('HGET', user_key(user), user), {}
  if packed then for i = 1, #packed, 22 do table.insert(out, string.sub(packed, i, i + 21)) end end
  return out
end
local function set_sessions(user, sids)
  if #sids == 0 then redis.call('HDEL', user_key(user), user)
  else redis.call('HSET', user_key(user), user, table.concat(sids)) end
end
local function add_session(user, sid)
  redis.call('HSET', user_key(user), user, (redis.call('HGET', user_key(user), user) or '') .. sid)
end
local function drop_session(user, sid)
  local kept = {}
  for _, s in ipairs(sessions_of(user)) do if s ~= sid then table.insert(kept, s) end end
  set_sessions(user, kept)
end

-- The purge index files each session, by id, in a list per minute in which it ends (its
-- 'e' field names the minute), and keeps the minutes in a sorted set: an entry costs its id.
-- A session filed anew (a revocation) leaves its old entry behind, counted as stale in 'er'
-- (minute -> stale entries), so that moving costs the same however full the old list is.
-- Its native expiry is an hour past its absolute end (which never moves, so refreshes need not
-- touch it) or past its revocation. Both follow the session's own timestamps (relative, so
-- they are right whatever clock the caller uses).
local MINUTE = 60000
local function minute(t) return int(math.floor(t / MINUTE)) end
local function ends(s)
  local at = math.min(s.idle, s.abs)
  if s.revoked then at = math.min(at, s.revoked) end
  return at
end
local function index(sid, s)
  local m = minute(ends(s))
  if s.bucket ~= m then
    if s.bucket then redis.call('HINCRBY', k('er'), s.bucket, 1) end
    redis.call('RPUSH', k('e', m), sid)
    redis.call('ZADD', k('e'), m, m)
    redis.call('HSET', k('s', sid), 'e', m)
    s.bucket = m
  end
  local last = s.revoked and ends(s) or s.abs
  redis.call('PEXPIRE', k('s', sid), int(math.max(1, last - s.seen) + SLACK))
end
local function reindex(sid) index(sid, state(k('s', sid))) end

-- A browser's user agent is long (over a hundred bytes) and shared by many sessions: it is
-- kept once per shard, under its digest, for as long as the longest-lived session naming it;
-- a session keeps the digest ('ua').
local function remember_agent(agent, lives_ms)
  local id = string.sub(redis.sha1hex(agent), 1, 24)
  local key = k('ua', id)
  if redis.call('PTTL', key) < lives_ms then redis.call('SET', key, agent, 'PX', int(lives_ms)) end
  return id
end
-- A session's fields as stored ({name, value, ...}), with its user agent written out.
local function readable(row)
  for i = 1, #row, 2 do
    if row[i] == 'ua' then row[i + 1] = redis.call('GET', k('ua', row[i + 1])) or '' end
  end
  return row
end

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

-- Audit events of a shard are one stream, by time: entry `at-seq` holds the user ('u', '' for
-- none) and the event without its time and user, packed ('j', see `pack` in audit.rs). A user's
-- entries are listed, as `at-seq,` each, in a field of one of 16 hashes ('ax'), like the user's
-- sessions.
local function audit_key(user) return by_user('ax', user) end
-- Appends an event (packed, time and user, '' for none); returns its id. An event timed
-- before the stream's newest (another node's clock runs ahead) takes that one's time.
local function audit(event, at, user)
  local id = redis.pcall('XADD', k('a'), at .. '-*', 'u', user, 'j', event)
  if type(id) == 'table' then
    local newest = redis.call('XREVRANGE', k('a'), '+', '-', 'COUNT', 1)[1][1]
    id = redis.call('XADD', k('a'), string.match(newest, '^(%d+)-') .. '-*', 'u', user, 'j', event)
  end
  if user ~= '' then
    local index = audit_key(user)
    redis.call('HSET', index, user, (redis.call('HGET', index, user) or '') .. id .. ',')
  end
  return id
end
