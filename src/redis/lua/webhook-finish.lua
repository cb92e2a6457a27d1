-- Ends an attempt, only for the holder of the current claim: reschedules the delivery
-- (next attempt time and its record with the attempt counted) or removes it, and lists the
-- attempt in the confirmation's log (bounded, expiring).
-- KEYS: schedule (zset), records (hash), claims (hash), the confirmation's attempt log (list).
-- ARGV: id, claim, attempt JSON, next attempt at ('' = done), updated record JSON,
--       attempts listed at most, log retention (ms). Answers 1, or 0 when the claim is not held.
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
end
redis.call('RPUSH', KEYS[4], ARGV[3])
redis.call('LTRIM', KEYS[4], -tonumber(ARGV[6]), -1)
redis.call('PEXPIRE', KEYS[4], ARGV[7])
return 1
