-- Reserve a place in the expiry schedule, which counts the pending confirmations of the
-- deployment: the total cap is checked and taken in one step. KEYS: the schedule. ARGV:
-- member, expiry, total cap. Answers 'present' (a replay of a pending one), 'full' or 'reserved'.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'present' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 'reserved'
