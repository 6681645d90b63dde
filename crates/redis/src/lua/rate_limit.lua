-- GCRA in microseconds. ARGV: key interval_us burst now_us.
-- {allowed, remaining, reset_after_us, retry_after_us}
local key = k('rl', ARGV[1])
local T, burst, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tolerance = T * (burst - 1)
local tat = tonumber(redis.call('GET', key) or ARGV[4])
if tat < now then tat = now end
local backlog = tat - now
if backlog > tolerance then return {0, 0, int(backlog), int(backlog - tolerance)} end
local nxt = tat + T
redis.call('SET', key, int(nxt), 'PX', int(math.max(1, math.ceil((nxt - now) / 1000))))
local reset = nxt - now
return {1, math.floor((T * burst - reset) / T), int(reset), 0}
