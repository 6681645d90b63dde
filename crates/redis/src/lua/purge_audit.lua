-- ARGV: cutoff batch. Deletes up to batch events recorded before cutoff.
local ids = redis.call('ZRANGEBYSCORE', k('audit', 't'), '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local json = redis.call('HGET', k('audit'), id)
  if json then
    local user = cjson.decode(json).user_id
    if type(user) == 'string' then redis.call('ZREM', k('audit', 'u', user), id) end
  end
  redis.call('HDEL', k('audit'), id)
  redis.call('ZREM', k('audit', 't'), id)
end
return #ids
