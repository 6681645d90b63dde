-- Shared helpers, prepended to every script. Every key lives under the hash tag in KEYS[1]
-- (a shard's, e.g. "{tessera:7:123}", or the global "{tessera}"), so each script touches one
-- Cluster slot. KEYS[2] is a key under it that is never written, declared so that Redis
-- refuses the script while a Cluster moves the slot (see `invocation` in store.rs). Numbers
-- are written with string.format('%d') because Lua's default formatting would round large
-- integers. A script gets only the definitions it uses (see scripts.rs),
-- and SLACK, how long what a session leaves outside its record outlives it (SLACK_MS there).
local P = KEYS[1]
local function k(...) return P .. ':' .. table.concat({...}, ':') end
local function int(n) return string.format('%d', n) end
local MINUTE = 60000

-- Session ids: a script takes and keeps an id as its 16 bytes (`id`); its 22 characters (`sid`,
-- unpadded base64url) only name what Tessera keyed by them (pointers, sessions stored as
-- hashes) and feed entries. Lua is slow at converting (about 5 µs an id): hot paths do not.
local B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
local function unbase64(text)
  local out, bits, n = {}, 0, 0
  for i = 1, #text do
    bits = bits * 64 + string.find(B64, string.sub(text, i, i), 1, true) - 1
    n = n + 6
    if n >= 8 then
      n = n - 8
      local byte = math.floor(bits / 2 ^ n)
      table.insert(out, string.char(byte))
      bits = bits - byte * 2 ^ n
    end
  end
  return table.concat(out)
end
local function sid_of(id)
  local b, d = {string.byte(id, 1, 16)}, {}
  for i = 1, 15, 3 do
    local n = b[i] * 65536 + b[i + 1] * 256 + b[i + 2]
    d[#d + 1] = string.byte(B64, math.floor(n / 262144) + 1)
    d[#d + 1] = string.byte(B64, math.floor(n / 4096) % 64 + 1)
    d[#d + 1] = string.byte(B64, math.floor(n / 64) % 64 + 1)
    d[#d + 1] = string.byte(B64, n % 64 + 1)
  end
  d[21] = string.byte(B64, math.floor(b[16] / 4) + 1)
  d[22] = string.byte(B64, (b[16] % 4) * 16 + 1)
  return string.char(unpack(d))
end
-- An id as an index holds it: 16 bytes, or 22 characters as Tessera kept them before.
local function id_of(entry) return #entry == 16 and entry or unbase64(entry) end

-- A session is a field, named by its id, of one of 16 hashes of its shard ('r'), so that it
-- costs a field and not a key of its own. The field holds its record, a MessagePack array
-- (cmsgpack: C, where Lua would take four times as long) of RECORD's values in order; codec.rs
-- reads it. `created` is two numbers, its seconds and its milliseconds (MessagePack has no
-- integer between 4 and 8 bytes); the other times are kept as distances from it (a node whose
-- clock lags may write one before it), but `rotated` from `seen`, which a refresh sets to the
-- same instant; `rate` (microseconds) and `bucket` (minutes) from `created` too. A later format
-- will begin with a negative number (its own), which no creation time is.
-- Every byte counts: 188 is the most a record can take in jemalloc's 192-byte class (Redis
-- adds 4), and the next class is 224. Token hashes are their 32
-- bytes; `agent` is the digest under which the user agent is remembered (see
-- remember_agent); `from` is '=' when the last refresh came from the address the session
-- began at (and an address beginning with '=' has another in front). None is '' for a text
-- ('' data is null) and false for a number; values at the end that are none are left out.
-- RECORD, by position (rotate.lua changes a record in place by them):
--    1 created_s    2 created_ms   3 seen         4 idle         5 abs          6 rotated
--    7 gen          8 version      9 refreshes   10 bucket      11 current     12 user
--   13 claims      14 ip          15 agent       16 rate        17 previous    18 from
--   19 data        20 label       21 cookie      22 revoked     23 reason
local function records(id) return k('r', string.byte(id, 2) % 16) end
-- A record's values, by RECORD's positions; an error for a later format.
local function values(rec)
  local v = cmsgpack.unpack(rec)
  if v[1] < 0 then error('a session record of unknown format ' .. tostring(-v[1])) end
  return v
end
-- A record of the values `v` (all of RECORD's, or a record's as `values` read them), those at
-- the end that are none left out.
local function packed(v)
  local n = #v
  while n > 13 and (v[n] == false or v[n] == '') do
    v[n] = nil
    n = n - 1
  end
  return cmsgpack.pack(v)
end
-- Written out rather than looped over RECORD: Lua in Redis takes microseconds for such loops.
local function decode(rec)
  local v = values(rec)
  local c = v[1] * 1000 + v[2]
  return {created = c, seen = c + v[3], idle = c + v[4], abs = c + v[5],
    rotated = c + v[3] + v[6],
    gen = v[7], version = v[8], refreshes = v[9],
    bucket = v[10] and int(math.floor(c / MINUTE) + v[10]) or nil, current = v[11],
    user = v[12], claims = v[13], ip = v[14] or '', agent = v[15] or '',
    rate = v[16] and c * 1000 + v[16] or nil, previous = v[17] or '', from = v[18] or '',
    data = v[19] or '', label = v[20] or '', cookie = v[21] or '',
    revoked = v[22] and c + v[22] or nil, reason = v[23] or ''}
end

-- A browser's user agent is long (over a hundred bytes) and shared by many sessions: it is
-- kept once per shard, under its digest, for as long as the longest-lived session naming it;
-- a session keeps the digest's 8 bytes.
local function unhex(text)
  return (string.gsub(text, '%x%x', function(h) return string.char(tonumber(h, 16)) end))
end
local function remember_agent(agent, lives_ms)
  local digest = string.sub(redis.sha1hex(agent), 1, 16)
  local key = k('ua', digest)
  local kept = redis.call('GET', key)
  -- Another agent under the same digest: never replaced (whoever made it), and this session
  -- keeps none.
  if kept and kept ~= agent then return '' end
  if not kept or redis.call('PTTL', key) < lives_ms then
    redis.call('SET', key, agent, 'PX', int(lives_ms))
  end
  return unhex(digest)
end

local function encode(s)
  if s.agent_text then
    s.agent = s.agent_text == '' and '' or remember_agent(s.agent_text, s.abs - s.seen + SLACK)
    s.agent_text = nil
  end
  local c = s.created
  local v = {math.floor(c / 1000), c % 1000, s.seen - c, s.idle - c, s.abs - c,
    s.rotated - s.seen, s.gen, s.version, s.refreshes,
    s.bucket and tonumber(s.bucket) - math.floor(c / MINUTE) or false, s.current, s.user,
    s.claims, s.ip, s.agent, s.rate and s.rate - c * 1000 or false, s.previous, s.from, s.data,
    s.label, s.cookie, s.revoked and s.revoked - c or false, s.reason}
  return packed(v)
end

-- A session as Tessera stored it before records (a hash of its own, `{field, value...}`),
-- read as a record's fields; the next write stores it as a record and deletes the hash.
local function from_fields(row, sid)
  local f = {}
  for i = 1, #row, 2 do f[row[i]] = row[i + 1] end
  local device = (f.dv and f.dv ~= '') and cjson.decode(f.dv) or {}
  local function text(v) return type(v) == 'string' and v or '' end
  local s = {user = f.u, created = tonumber(f.c), seen = tonumber(f.ls), idle = tonumber(f.i),
    abs = tonumber(f.a), rotated = tonumber(f.rt or f.c), revoked = tonumber(f.ra),
    gen = tonumber(f.g), version = tonumber(f.v), refreshes = tonumber(f.rn or '0'),
    rate = tonumber(f.rl), bucket = f.e, current = unbase64(f.rc),
    previous = unbase64(f.rp or ''), claims = f.cl, data = f.d == 'null' and '' or text(f.d),
    ip = text(device.ip), label = text(device.label), agent = '', from = text(f.rf),
    reason = text(f.rr), cookie = f.ck and unbase64(cjson.decode(f.ck)) or '', hashed = sid}
  if f.ua and f.ua ~= '' then
    s.agent = unhex(f.ua)
  elseif type(device.user_agent) == 'string' then
    s.agent_text = device.user_agent -- kept in the device before agents were kept apart
  end
  if string.sub(s.from, 1, 1) == '=' then s.from = '=' .. s.from end
  return s
end

-- The session, and its record as stored (nil for one stored as a hash); nil when there is none.
local function load(id)
  local rec = redis.call('HGET', records(id), id)
  if rec then return decode(rec), rec end
  local sid = sid_of(id)
  local row = redis.call('HGETALL', k('s', sid))
  if #row > 0 then return from_fields(row, sid) end
end
local function save(id, s)
  redis.call('HSET', records(id), id, encode(s))
  if s.hashed then
    redis.call('DEL', k('s', s.hashed))
    s.hashed = nil
  end
end
local function delete(id, s)
  redis.call('HDEL', records(id), id)
  if s.hashed then redis.call('DEL', k('s', s.hashed)) end
end
-- Whether a session here has the id `id` (`sid`).
local function stored(id, sid)
  -- HGET, not HEXISTS: the commands Tessera's Redis user may run stay as they were.
  return redis.call('HGET', records(id), id) ~= false or redis.call('EXISTS', k('s', sid)) == 1
end
-- What get, rotate and list answer for a session: its record, and its user agent's text
-- when the record does not name it by digest (an agent still kept in a hash's device: it is
-- answered, not remembered, as this writes nothing and get may not), '' otherwise. The text a
-- digest names never changes while a session names it, so callers keep it once read
-- (agents.lua) and a refresh costs no lookup of it.
local function readable(s, rec)
  if rec then return {rec, ''} end
  local text = s.agent_text
  s.agent_text = nil
  rec = encode(s)
  s.agent_text = text
  return {rec, text or ''}
end

local function live(s, now) return s ~= nil and not s.revoked and now < s.idle and now < s.abs end

-- A user's field: the user's sessions, oldest first, and the ids of the user's audit events
-- (see `audit`), oldest first, in a field named by the user of one of 16 hashes of the shard
-- ('ux'), so that a user costs one field, not keys of their own: the byte 1, the number of
-- sessions (7 bits a byte, low first, the high bit set on all but the last), their ids (16
-- bytes each), then the events' ids (8 bytes each: the time's 6, the sequence's 2). Tessera
-- kept the two apart before, each in a field of its own: the sessions in 'ux' (after a zero
-- byte, or as 22 characters each) and the events in 'ax' (after a zero byte, or as `at-seq,`
-- each). Those are read as they are, and the user's next write joins them. An older node
-- still running beside this version (an upgrade without the full stop it needs) keeps
-- writing events to 'ax': those are read too, in their place by time.
-- `user_of` reads the field as {sessions = ids end to end, events = ids end to end};
-- `set_user` writes it back.
local function by_user(name, user) return k(name, string.sub(redis.sha1hex(user), 1, 1)) end
local function event_bytes(at, seq) return struct.pack('>I6I2', at, seq) end
-- The i-th event id (first: 1) of ids end to end: its time and number.
local function event_at(events, i) return struct.unpack('>I6I2', events, 8 * i - 7) end
-- An event id as Redis writes it (`at-seq`): its time and number.
local function event_id(text)
  local at, seq = string.match(text, '^(%d+)-(%d+)')
  return tonumber(at), tonumber(seq)
end
-- Whether the event id (am, as) comes before (bm, bs).
local function earlier(am, as, bm, bs) return am < bm or (am == bm and as < bs) end
-- Two lists of event ids, each oldest first, as one.
local function merged(a, b)
  if a == '' or b == '' then return a .. b end
  local out, i, j, na, nb = {}, 1, 1, #a / 8, #b / 8
  while i <= na or j <= nb do
    local from_a = j > nb
    if i <= na and j <= nb then
      local am, as = event_at(a, i)
      local bm, bs = event_at(b, j)
      from_a = not earlier(bm, bs, am, as)
    end
    if from_a then
      table.insert(out, string.sub(a, 8 * i - 7, 8 * i))
      i = i + 1
    else
      table.insert(out, string.sub(b, 8 * j - 7, 8 * j))
      j = j + 1
    end
  end
  return table.concat(out)
end
local function user_of(user)
  local key = by_user('ux', user)
  local packed = redis.call('HGET', key, user) or ''
  local u = {key = key, events = ''}
  if string.byte(packed, 1) == 1 then
    local n, i, scale, b = 0, 2, 1, 128
    while b >= 128 do
      b = string.byte(packed, i)
      n, i, scale = n + b % 128 * scale, i + 1, scale * 128
    end
    u.sessions, u.events = string.sub(packed, i, i + 16 * n - 1), string.sub(packed, i + 16 * n)
  elseif string.byte(packed, 1) == 0 then
    u.sessions = string.sub(packed, 2)
  else
    local ids = {}
    for i = 1, #packed, 22 do table.insert(ids, unbase64(string.sub(packed, i, i + 21))) end
    u.sessions = table.concat(ids)
  end
  local apart = by_user('ax', user)
  local kept = redis.call('HGET', apart, user)
  if kept then
    local events = string.sub(kept, 2)
    if string.byte(kept, 1) ~= 0 then
      local ids = {}
      for id in string.gmatch(kept, '([^,]+),') do table.insert(ids, event_bytes(event_id(id))) end
      events = table.concat(ids)
    end
    u.events, u.apart = merged(u.events, events), apart
  end
  return u
end
local function set_user(user, u)
  if u.sessions == '' and u.events == '' then
    redis.call('HDEL', u.key, user)
  else
    local count, n = {}, #u.sessions / 16
    while n >= 128 do
      table.insert(count, n % 128 + 128)
      n = math.floor(n / 128)
    end
    table.insert(count, n)
    redis.call('HSET', u.key, user, '\1' .. string.char(unpack(count)) .. u.sessions .. u.events)
  end
  if u.apart then
    redis.call('HDEL', u.apart, user)
    u.apart = nil
  end
end
local function ids_of(packed)
  local out = {}
  for i = 1, #packed, 16 do table.insert(out, string.sub(packed, i, i + 15)) end
  return out
end
local function sessions_of(user) return ids_of(user_of(user).sessions) end
local function drop_session(user, id)
  local u, kept = user_of(user), {}
  for _, other in ipairs(ids_of(u.sessions)) do if other ~= id then table.insert(kept, other) end end
  u.sessions = table.concat(kept)
  set_user(user, u)
end

-- The purge index files each session, by id, in a list per minute in which it
-- ends (its `bucket` names the minute, saved with it by the caller), and keeps the minutes in
-- a sorted set: an entry costs its id. A session filed anew (a revocation) leaves its old entry
-- behind, counted as stale in 'er' (minute -> stale entries), so that moving costs the same
-- however full the old list is. Purge deletes a session once its minute has come and it has
-- ended.
local function minute(t) return int(math.floor(t / MINUTE)) end
local function ends(s)
  local at = math.min(s.idle, s.abs)
  if s.revoked then at = math.min(at, s.revoked) end
  return at
end
local function index(id, s)
  local m = minute(ends(s))
  if s.bucket ~= m then
    if s.bucket then redis.call('HINCRBY', k('er'), s.bucket, 1) end
    redis.call('RPUSH', k('e', m), id)
    redis.call('ZADD', k('e'), m, m)
    s.bucket = m
  end
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
local function elsewhere(id)
  local shard = redis.call('GET', k('m', sid_of(id)))
  if shard then return redis.error_reply('TESSERA_ELSEWHERE ' .. shard) end
end

-- Revokes a live session (`s`, loaded already, or nil to load it; `sid` its id's characters,
-- or nil to make them); its user, or false.
local function revoke(id, reason, at, until_ms, quiet, s, sid)
  s = s or load(id)
  if not s or s.revoked then return false end
  s.revoked, s.reason = tonumber(at), reason
  index(id, s)
  save(id, s)
  feed(0, sid or sid_of(id), until_ms, quiet)
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
-- entries are listed in the user's field (see `user_of`).
-- A user's events: how many, and a reader of the i-th (oldest first) as its time and number.
local function audit_index(user)
  local events = user_of(user).events
  return #events / 8, function(i) return event_at(events, i) end
end
-- Appends an event (packed, time and user, '' for none); returns its id. An event timed
-- before the stream's newest (another node's clock runs ahead) takes that one's time. `u`, the
-- user's field when the caller has read it already (see `user_of`), takes the event's id, and
-- the caller writes it; without it, the field is read and written here.
-- Ids keep their sequence number in 2 bytes (as `audit_id` in audit.rs does): past 65,535
-- events in one millisecond (events timed before the newest pile up on its millisecond, as a
-- migration's do) an event takes the next millisecond.
local function audit(event, at, user, u)
  local id = redis.pcall('XADD', k('a'), at .. '-*', 'u', user, 'j', event)
  if type(id) ~= 'table' and select(2, event_id(id)) > 65535 then
    redis.call('XDEL', k('a'), id)
    id = {}
  end
  if type(id) == 'table' then
    local newest = redis.call('XREVRANGE', k('a'), '+', '-', 'COUNT', 1)[1]
    local ms, seq = tonumber(at), 0
    if newest then ms, seq = event_id(newest[1]) end
    if seq >= 65535 then ms = ms + 1 end
    id = redis.call('XADD', k('a'), int(ms) .. '-*', 'u', user, 'j', event)
  end
  if user ~= '' then
    local field = u or user_of(user)
    field.events = field.events .. event_bytes(event_id(id))
    if not u then set_user(user, field) end
  end
  return id
end
