-- ARGV: user except ('' for none) reason at until. The revoked ids; one announcement for all
-- of them.
local out = {}
for _, id in ipairs(sessions_of(ARGV[1])) do
  if id ~= ARGV[2] and revoke(id, ARGV[3], ARGV[4], ARGV[5], true) then table.insert(out, id) end
end
if #out > 0 then redis.call('SPUBLISH', k('revocations'), redis.call('GET', k('feed', 'seq'))) end
return out
