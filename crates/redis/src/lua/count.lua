-- ARGV: now. How many sessions are filed under minutes after the current one: the live ones,
-- but for a session refreshed past the minute it is filed under, until purge files it anew.
local n = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', k('e'), '(' .. minute(tonumber(ARGV[1])), '+inf')) do
  n = n + redis.call('LLEN', k('e', m))
end
return n
