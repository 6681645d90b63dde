-- ARGV: now. How many sessions are filed under minutes after the current one, less the entries
-- left behind there by a move: the live ones, but for a session refreshed past the minute it is
-- filed under, until purge files it anew.
local n = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', k('e'), '(' .. minute(tonumber(ARGV[1])), '+inf')) do
  n = n + math.max(0, redis.call('LLEN', k('e', m)) - tonumber(redis.call('HGET', k('er'), m) or '0'))
end
return n
