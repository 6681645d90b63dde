-- A whole refresh in one step (see Rotation in the core): one read, one write.
-- ARGV: sid expected_gen presented_hash new_gen refresh at idle client
--       interval_us burst now_us (interval '' for no rate)
-- {'gone'} | {'found', HGETALL...} | {'limited', retry_us, reset_us} | {'rotated', HGETALL...}
-- Both 'found' and 'rotated' answer the session as it was read: the caller applies its own
-- rotation to the latter (Rotation::apply), so nothing it already knows is rebuilt here.
-- The per-session rate's state is kept in the session ('rl'), so it costs no key of its own
-- and goes with the session. The purge index is not touched: a refresh only moves the end
-- later, and purge re-indexes a session it finds still live. Native expiry follows the
-- absolute end, which never moves.
local h = k('s', ARGV[1])
local row = redis.call('HGETALL', h)
if #row == 0 then return elsewhere(ARGV[1]) or {'gone'} end
local f = {}
for i = 1, #row, 2 do f[row[i]] = row[i + 1] end
local at, idle = tonumber(ARGV[6]), ARGV[7]
if f.ra or at >= tonumber(f.i) or at >= tonumber(f.a) or f.g ~= ARGV[2] or f.rc ~= ARGV[3] then
  table.insert(row, 1, 'found')
  return readable(row)
end
if tonumber(idle) > tonumber(f.a) then idle = f.a end
local set = refresh_fields(ARGV[5])
local function put(name, value)
  set[#set + 1] = name
  set[#set + 1] = value
end
put('g', ARGV[4])
put('ls', ARGV[6])
put('i', idle)
put('rn', tostring((tonumber(f.rn) or 0) + 1))
if ARGV[9] ~= '' then
  local d, tat = gcra_step(f.rl, tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]))
  if not tat then return {'limited', d[4], d[3]} end
  put('rl', int(tat))
end
if ARGV[8] ~= '' then
  put('rf', ARGV[8])
elseif f.rf then
  redis.call('HDEL', h, 'rf')
end
redis.call('HSET', h, unpack(set))
table.insert(row, 1, 'rotated')
return readable(row)
