-- ARGV: user now. The live sessions, oldest first, each as {sid, HGETALL...}.
local out = {}
local now = tonumber(ARGV[2])
for _, sid in ipairs(redis.call('ZRANGE', k('u', ARGV[1]), 0, -1)) do
  local row = redis.call('HGETALL', k('s', sid))
  if #row == 0 then
    redis.call('ZREM', k('u', ARGV[1]), sid) -- expired natively: tidy the index
  else
    local f = {}
    for i = 1, #row, 2 do f[row[i]] = row[i + 1] end
    if not f.ra and now < tonumber(f.i) and now < tonumber(f.a) then
      table.insert(row, 1, sid)
      table.insert(out, row)
    end
  end
end
return out
