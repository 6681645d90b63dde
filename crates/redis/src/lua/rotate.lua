-- A whole refresh in one step (see Rotation in the core): one read, one write.
-- ARGV: id expected_gen presented new_gen current previous rotated at idle client
--       interval_us burst now_us (the id and hashes as their bytes, previous '' for none;
--       interval '' for no rate)
-- {'gone'} | {'found', record, agent} | {'limited', retry_us, reset_us} | {'rotated', record,
-- agent}, the record and agent as readable answers them. Both 'found' and 'rotated' answer
-- the session as it was read: the caller applies its own rotation to the latter
-- (Rotation::apply), so nothing it already knows is rebuilt here. The per-session rate's state
-- is kept in the session, so it costs no key of its own and goes with the session. The purge
-- index is not touched: a refresh only moves the end later, and purge files anew a session it
-- finds still live.
-- A record is checked and changed in place, by RECORD's positions (see the prelude): decoding
-- the whole session and encoding it again took about an eighth of a refresh's time in Redis.
local id = ARGV[1]
local rec = redis.call('HGET', records(id), id)
local agent, hashed = '', nil
if not rec then -- a session stored as a hash before records, or none
  hashed = load(id)
  if not hashed then return elsewhere(id) or {'gone'} end
  rec, agent = unpack(readable(hashed))
end
local v = values(rec)
local c = v[1] * 1000 + v[2]
local at = tonumber(ARGV[8])
if v[22] or at >= c + v[4] or at >= c + v[5] or v[7] ~= tonumber(ARGV[2])
  or v[11] ~= ARGV[3] then
  return {'found', rec, agent}
end
local out = {'rotated', rec, agent}
local rate = v[16] and c * 1000 + v[16] or nil
if ARGV[11] ~= '' then
  local d, tat = gcra_step(rate, tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]))
  if not tat then return {'limited', d[4], d[3]} end
  rate = tat
end
if hashed then -- stored as a record from now on (its agent remembered), then changed as one
  save(id, hashed)
  v = values(redis.call('HGET', records(id), id))
end
-- '=' for the address the session began at; an address that itself begins with '=' gets
-- another in front.
local client, from = ARGV[10], ARGV[10]
if client ~= '' and client == (v[14] or '') then from = '='
elseif string.sub(client, 1, 1) == '=' then from = '=' .. client end
for i = #v + 1, 18 do v[i] = false end -- no gap before those set below
v[3] = at - c -- seen
v[4] = math.min(tonumber(ARGV[9]), c + v[5]) - c -- idle, never past abs
v[6] = tonumber(ARGV[7]) - at -- rotated, from seen
v[7] = tonumber(ARGV[4]) -- gen
v[9] = v[9] + 1 -- refreshes
v[11] = ARGV[5] -- current
v[16] = rate and rate - c * 1000 or false
v[17] = ARGV[6] -- previous
v[18] = from
redis.call('HSET', records(id), id, packed(v))
return out
