-- A whole refresh in one step (see Rotation in the core).
-- ARGV: sid expected_gen presented_hash new_gen refresh at idle client
--       rate_key interval_us burst now_us (rate_key '' for none)
-- {'gone'} | {'found', HGETALL...} | {'limited', retry_us, reset_us} | {'rotated', HGETALL...}
local h = k('s', ARGV[1])
if redis.call('EXISTS', h) == 0 then return {'gone'} end
local at = tonumber(ARGV[6])
if not is_live(h, at) or redis.call('HGET', h, 'g') ~= ARGV[2]
    or redis.call('HGET', h, 'rc') ~= ARGV[3] then
  local row = redis.call('HGETALL', h)
  table.insert(row, 1, 'found')
  return row
end
if ARGV[9] ~= '' then
  local d = gcra(ARGV[9], tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]))
  if d[1] == 0 then return {'limited', d[4], d[3]} end
end
local idle = math.min(tonumber(ARGV[7]), num(h, 'a'))
redis.call('HSET', h, 'g', ARGV[4], 'ls', ARGV[6], 'i', int(idle), unpack(refresh_fields(ARGV[5])))
redis.call('HINCRBY', h, 'rn', 1)
if ARGV[8] == '' then redis.call('HDEL', h, 'rf') else redis.call('HSET', h, 'rf', ARGV[8]) end
reindex(ARGV[1])
local row = redis.call('HGETALL', h)
table.insert(row, 1, 'rotated')
return row
