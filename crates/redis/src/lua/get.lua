-- ARGV: sid. The session's fields, user agent written out; {} when there is none.
local row = redis.call('HGETALL', k('s', ARGV[1]))
if #row == 0 then return elsewhere(ARGV[1]) or {} end
return readable(row)
