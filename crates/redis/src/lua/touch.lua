-- ARGV: id last_seen idle. Like a refresh, activity leaves the purge index alone (see
-- rotate.lua).
local s = load(ARGV[1])
if not s then return elsewhere(ARGV[1]) or 0 end
if s.revoked then return 0 end
s.seen, s.idle = tonumber(ARGV[2]), tonumber(ARGV[3])
save(ARGV[1], s)
return 1
