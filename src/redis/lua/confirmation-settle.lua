-- Settle: compare-and-set from pending; the first answer (or the timeout, or the
-- cancellation) wins. KEYS: record, user's pending set, waiters.
local state = redis.call('HGET', KEYS[1], 'st')
if not state then return {'not_found'} end
if state ~= 'pending' then return {'already', redis.call('HGETALL', KEYS[1])} end
-- An answer to a confirmation with approvals is a vote (confirmation-vote.lua).
if (ARGV[2] == 'confirmed' or ARGV[2] == 'rejected') and redis.call('HEXISTS', KEYS[1], 'ap') == 1 then
  return {'needs_vote', redis.call('HGETALL', KEYS[1])}
end
-- The prompt ('f') is emptied, not deleted: one HSET, and a decision does not keep it.
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[1], 'st', ARGV[2], 'p', ARGV[3], 'sa', ARGV[5], 'f', '', 'fb', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'st', ARGV[2], 'p', ARGV[3], 'sa', ARGV[5], 'f', '')
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZREM', KEYS[2], ARGV[1])
local waiting = redis.call('SMEMBERS', KEYS[3])
redis.call('DEL', KEYS[3])
return {'settled', redis.call('HGETALL', KEYS[1]), waiting}
