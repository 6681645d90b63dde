-- ARGV: (json at user)... with user '' for none. Appends every event.
for i = 1, #ARGV, 3 do audit(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
return #ARGV / 3
