-- A confirmation leaves the expiry schedule and joins the retained decisions; past
-- CONFIRMATION_MAX_RETAINED the oldest are popped, for the caller to delete. Only the call
-- that takes it out of the schedule adds it (or, with ARGV[5] = '1', one born settled).
-- KEYS: the schedule, the retained decisions. ARGV: member, settled at, max retained,
-- oldest still retained, force, retention ms. Answers the popped members.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 and ARGV[5] ~= '1' then return {} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
-- Every member is past its retention once the newest is: then the set goes too.
redis.call('PEXPIRE', KEYS[2], ARGV[6])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess <= 0 then return {} end
local popped = redis.call('ZPOPMIN', KEYS[2], excess)
local members = {}
for i = 1, #popped, 2 do members[#members + 1] = popped[i] end
return members
