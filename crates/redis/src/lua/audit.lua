-- ARGV: (event at user)..., each event packed (see audit.rs), user '' for none. Appends them.
for i = 1, #ARGV, 3 do audit(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
return #ARGV / 3
