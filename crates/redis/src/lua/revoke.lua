-- ARGV: sid reason at until. The user id, or false.
if redis.call('EXISTS', k('s', ARGV[1])) == 0 then return elsewhere(ARGV[1]) or false end
return revoke(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
