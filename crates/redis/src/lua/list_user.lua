-- ARGV: user now. The live sessions, oldest first, each as {sid, HGETALL...}.
local out, kept = {}, {}
local user, now = ARGV[1], tonumber(ARGV[2])
local sids = sessions_of(user)
for _, sid in ipairs(sids) do
  local row = redis.call('HGETALL', k('s', sid))
  if #row > 0 then
    table.insert(kept, sid)
    local f = {}
    for i = 1, #row, 2 do f[row[i]] = row[i + 1] end
    if not f.ra and now < tonumber(f.i) and now < tonumber(f.a) then
      table.insert(row, 1, sid)
      table.insert(out, readable(row))
    end
  end
end
if #kept < #sids then set_sessions(user, kept) end -- some expired natively: tidy the index
return out
