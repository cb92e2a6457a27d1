-- Beat if still the owner. KEYS: the task's heartbeat. ARGV: id, owner, lease until.
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'o') ~= ARGV[2] then return {} end
redis.call('HINCRBY', KEYS[1], 'b', 1)
redis.call('HSET', KEYS[1], 'l', ARGV[3])
return redis.call('HGETALL', KEYS[1])
