-- ARGV: digest... (hex, as remember_agent names them). The user agents this shard remembers
-- under them, '' for one it does not.
local out = {}
for i, digest in ipairs(ARGV) do out[i] = redis.call('GET', k('ua', digest)) or '' end
return out
