-- ARGV: key interval_us burst now_us. See gcra in the prelude.
return gcra(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
