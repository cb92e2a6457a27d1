-- A webhook delivery, once per webhook-id. KEYS: schedule (zset), records (hash).
-- ARGV: id, record JSON, due at (ms). Answers 1 when stored, 0 when the id exists.
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
