-- Remove if it is this heartbeat. KEYS: the task's heartbeat. ARGV: id.
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return {} end
local removed = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return removed
