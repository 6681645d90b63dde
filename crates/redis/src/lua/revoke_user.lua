-- ARGV: user except reason at until. The revoked ids.
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', k('u', ARGV[1]), 0, -1)) do
  if sid ~= ARGV[2] and revoke(sid, ARGV[3], ARGV[4], ARGV[5]) then table.insert(out, sid) end
end
return out
