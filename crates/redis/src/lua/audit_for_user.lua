-- ARGV: user before ('+inf' or '(N') limit. {id, json, id, json, ...}, newest first.
local out = {}
for _, id in ipairs(redis.call('ZREVRANGEBYSCORE', k('audit', 'u', ARGV[1]), ARGV[2], '-inf', 'LIMIT', 0, tonumber(ARGV[3]))) do
  local json = redis.call('HGET', k('audit'), id)
  if json then
    table.insert(out, id)
    table.insert(out, json)
  end
end
return out
