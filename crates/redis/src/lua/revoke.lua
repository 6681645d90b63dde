-- ARGV: sid reason at until. The user id, or false.
return revoke(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
