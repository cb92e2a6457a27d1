-- Watch: join the waiters only while pending. KEYS: record, waiters.
local record = redis.call('HGETALL', KEYS[1])
if redis.call('HGET', KEYS[1], 'st') == 'pending' then
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return record
