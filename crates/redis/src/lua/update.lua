-- ARGV: id expected_version claims data cookie ('' = unchanged; data 'null' for null, cookie
-- as its hash's 32 bytes). {kind, version}
local s = load(ARGV[1])
if not s then return elsewhere(ARGV[1]) or {'notfound', 0} end
if s.revoked then return {'notfound', 0} end
if int(s.version) ~= ARGV[2] then return {'mismatch', s.version} end
if ARGV[3] ~= '' then s.claims = ARGV[3] end
if ARGV[4] ~= '' then s.data = ARGV[4] == 'null' and '' or ARGV[4] end
if ARGV[5] ~= '' then s.cookie = ARGV[5] end
s.version = s.version + 1
save(ARGV[1], s)
return {'updated', s.version}
