-- A whole refresh in one step (see Rotation in the core): one read, one write.
-- ARGV: id expected_gen presented new_gen current previous rotated at idle client
--       interval_us burst now_us (the id and hashes as their bytes, previous '' for none;
--       interval '' for no rate)
-- {'gone'} | {'found', record, agent} | {'limited', retry_us, reset_us} | {'rotated', record,
-- agent}. Both 'found' and 'rotated' answer the session as it was read: the caller applies
-- its own rotation to the latter (Rotation::apply), so nothing it already knows is rebuilt
-- here. The per-session rate's state is kept in the session, so it costs no key of its own and
-- goes with the session. The purge index is not touched: a refresh only moves the end later,
-- and purge files anew a session it finds still live.
local id = ARGV[1]
local s, rec = load(id)
if not s then return elsewhere(id) or {'gone'} end
local at = tonumber(ARGV[8])
if s.revoked or at >= s.idle or at >= s.abs or s.gen ~= tonumber(ARGV[2])
  or s.current ~= ARGV[3] then
  local out = readable(s, rec)
  table.insert(out, 1, 'found')
  return out
end
local out = readable(s, rec)
table.insert(out, 1, 'rotated')
if ARGV[11] ~= '' then
  local d, tat = gcra_step(s.rate, tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]))
  if not tat then return {'limited', d[4], d[3]} end
  s.rate = tat
end
s.gen, s.current, s.previous, s.rotated = tonumber(ARGV[4]), ARGV[5], ARGV[6], tonumber(ARGV[7])
s.seen, s.idle = at, math.min(tonumber(ARGV[9]), s.abs)
s.refreshes = s.refreshes + 1
-- '=' for the address the session began at; an address that itself begins with '=' gets
-- another in front.
if ARGV[10] ~= '' and ARGV[10] == s.ip then s.from = '='
elseif string.sub(ARGV[10], 1, 1) == '=' then s.from = '=' .. ARGV[10]
else s.from = ARGV[10] end
save(id, s)
return out
