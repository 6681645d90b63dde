-- ARGV: user now. The live sessions, oldest first, each as {sid, HGETALL...}.
local out = {}
local now = tonumber(ARGV[2])
for _, sid in ipairs(redis.call('ZRANGE', k('u', ARGV[1]), 0, -1)) do
  local h = k('s', sid)
  if redis.call('EXISTS', h) == 0 then
    redis.call('ZREM', k('u', ARGV[1]), sid) -- expired natively: tidy the index
  elseif is_live(h, now) then
    local row = redis.call('HGETALL', h)
    table.insert(row, 1, sid)
    table.insert(out, row)
  end
end
return out
