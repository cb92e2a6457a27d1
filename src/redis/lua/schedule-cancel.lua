-- End every job of one confirmation. KEYS: the schedule by due time, the index by
-- confirmation, the jobs. ARGV: the index range of its members ('[<id>\n', '(<id>\v').
-- Answers how many jobs there were.
local members = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2])
for _, member in ipairs(members) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[3], member)
end
if #members > 0 then redis.call('ZREMRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2]) end
return #members
