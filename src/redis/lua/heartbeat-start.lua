-- Replace the task's heartbeat. KEYS: the task's heartbeat. ARGV: field/value pairs, ttl.
local replaced = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
for i = 1, #ARGV - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV])
return replaced
