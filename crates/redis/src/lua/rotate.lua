-- A whole refresh in one step (see Rotation in the core): one read, one write.
-- ARGV: sid expected_gen presented_hash new_gen refresh at idle client
--       interval_us burst now_us (interval '' for no rate)
-- {'gone'} | {'found', HGETALL...} | {'limited', retry_us, reset_us} | {'rotated', HGETALL...}
-- The per-session rate's state is kept in the session ('rl'), so it costs no key of its own
-- and goes with the session. The purge index is not touched: a refresh only moves the end
-- later, and purge re-indexes a session it finds still live. Native expiry follows the
-- absolute end, which never moves.
local h = k('s', ARGV[1])
local row = redis.call('HGETALL', h)
if #row == 0 then return elsewhere(ARGV[1]) or {'gone'} end
local f = {}
for i = 1, #row, 2 do f[row[i]] = row[i + 1] end
local at = tonumber(ARGV[6])
if f.ra or at >= tonumber(f.i) or at >= tonumber(f.a) or f.g ~= ARGV[2] or f.rc ~= ARGV[3] then
  table.insert(row, 1, 'found')
  return readable(row)
end
local set = {g = ARGV[4], ls = ARGV[6], i = int(math.min(tonumber(ARGV[7]), tonumber(f.a))),
  rn = int(tonumber(f.rn or '0') + 1)}
if ARGV[9] ~= '' then
  local d, tat = gcra_step(f.rl, tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]))
  if not tat then return {'limited', d[4], d[3]} end
  set.rl = int(tat)
end
local refresh = refresh_fields(ARGV[5])
for i = 1, #refresh, 2 do set[refresh[i]] = refresh[i + 1] end
if ARGV[8] ~= '' then
  set.rf = ARGV[8]
elseif f.rf then
  redis.call('HDEL', h, 'rf')
  f.rf = nil
end
local args = {}
for name, value in pairs(set) do
  table.insert(args, name)
  table.insert(args, value)
  f[name] = value
end
redis.call('HSET', h, unpack(args))
local out = {'rotated'}
for name, value in pairs(f) do
  table.insert(out, name)
  table.insert(out, value)
end
return readable(out)
