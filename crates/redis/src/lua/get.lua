-- ARGV: id (its 16 bytes, as every script takes it). The session's record and user agent; {}
-- when there is none.
local s, rec = load(ARGV[1])
if not s then return elsewhere(ARGV[1]) or {} end
return readable(s, rec)
