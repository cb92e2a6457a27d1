-- Counts a connection among its user's and hands back the oldest others past the limit,
-- removed at once so two instances never pick the same one.
-- KEYS: the user's connections (sorted set, score = connected at).
-- ARGV: member, connected at ms, limit, key lifetime ms.
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if excess <= 0 then return {} end
local oldest = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, excess)) do
  if member ~= ARGV[1] and #oldest < excess then
    redis.call('ZREM', KEYS[1], member)
    table.insert(oldest, member)
  end
end
return oldest
