-- Take over when the lease ran out. KEYS: the task's heartbeat. ARGV: owner, now, lease until.
local lease = tonumber(redis.call('HGET', KEYS[1], 'l'))
if not lease or lease > tonumber(ARGV[2]) then return {} end
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'l', ARGV[3])
return redis.call('HGETALL', KEYS[1])
