-- Claim up to ARGV[2] runs due at ARGV[1] (epoch ms) or before, earliest first. A claimed
-- run is counted in the same step, so no other caller gets it; a job with runs left is
-- moved to its next due time, the last run removes it. KEYS: the schedule by due time, the
-- index by confirmation, the jobs. Answers {json, run, due, next due or ''} per run.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local claimed = {}
for i = 1, #due, 2 do
  local member = due[i]
  local at = tonumber(due[i + 1])
  local stored = redis.call('HGET', KEYS[3], member)
  local done, times, every, json
  if stored then done, times, every, json = string.match(stored, '^(%d+):(%d+):(%d+):(.*)$') end
  if not json then
    redis.call('ZREM', KEYS[1], member)
    redis.call('ZREM', KEYS[2], member)
    redis.call('HDEL', KEYS[3], member)
  else
    done = tonumber(done) + 1
    local nextDue = ''
    if done >= tonumber(times) then
      redis.call('ZREM', KEYS[1], member)
      redis.call('ZREM', KEYS[2], member)
      redis.call('HDEL', KEYS[3], member)
    else
      nextDue = string.format('%d', at + tonumber(every))
      redis.call('ZADD', KEYS[1], nextDue, member)
      redis.call('HSET', KEYS[3], member, done .. ':' .. times .. ':' .. every .. ':' .. json)
    end
    claimed[#claimed + 1] = { json, done, string.format('%d', at), nextDue }
  end
end
return claimed
