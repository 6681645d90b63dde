-- ARGV: id reason at until sid (its 22 characters). The user id, or false.
local s = load(ARGV[1])
if not s then return elsewhere(ARGV[1]) or false end
return revoke(ARGV[1], ARGV[2], ARGV[3], ARGV[4], false, s, ARGV[5])
