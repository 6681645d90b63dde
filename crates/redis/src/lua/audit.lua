-- ARGV: json at user ('' = none). The event id.
local id = redis.call('INCR', k('audit', 'seq'))
redis.call('HSET', k('audit'), id, ARGV[1])
redis.call('ZADD', k('audit', 't'), ARGV[2], id)
if ARGV[3] ~= '' then redis.call('ZADD', k('audit', 'u', ARGV[3]), id, id) end
return id
