-- The callback_id stays taken as long as its record: once its user's confirmation settles,
-- the index expires with the record. KEYS: the index. ARGV: user, TTL ms.
local owner = redis.call('GET', KEYS[1])
if owner and cjson.decode(owner)[1] == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
