-- ARGV: sid expected_version claims data cookie ('' = unchanged). {kind, version}
local h = k('s', ARGV[1])
local f = redis.call('HMGET', h, 'u', 'ra', 'v')
if not f[1] then return elsewhere(ARGV[1]) or {'notfound', 0} end
if f[2] then return {'notfound', 0} end
local version = tonumber(f[3])
if int(version) ~= ARGV[2] then return {'mismatch', version} end
if ARGV[3] ~= '' then redis.call('HSET', h, 'cl', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', h, 'd', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', h, 'ck', ARGV[5]) end
redis.call('HSET', h, 'v', int(version + 1))
return {'updated', version + 1}
