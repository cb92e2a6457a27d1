-- A user of the task, kept as long as the task's longest-lived confirmation: one call
-- instead of ZADD and two PEXPIREs. KEYS: the task's users. ARGV: created at, user, TTL ms.
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
