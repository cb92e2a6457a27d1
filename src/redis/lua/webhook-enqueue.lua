-- A webhook delivery, once per webhook-id, while fewer than the cap are waiting.
-- KEYS: schedule (zset), records (hash). ARGV: id, record JSON, due at (ms), cap.
-- Answers 'stored', 'exists' (the id is kept: nothing changes) or 'full'.
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'exists' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 'full' end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 'stored'
