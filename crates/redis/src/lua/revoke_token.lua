-- ARGV: jti until
return feed(1, ARGV[1], ARGV[2])
