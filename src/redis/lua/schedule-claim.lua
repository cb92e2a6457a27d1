-- Lease up to ARGV[3] runs handed out at ARGV[1] (epoch ms) or before (due, or their lease
-- ended), earliest first, for ARGV[2] ms: no other caller gets one before then.
-- The run stays the job's current one until schedule-complete.lua. KEYS: the schedule by
-- when a run is handed out next, the index by confirmation, the jobs. Answers
-- {json, run, due, next due or ''} per run.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local leaseEnd = string.format('%d', tonumber(ARGV[1]) + tonumber(ARGV[2]))
local claimed = {}
for _, member in ipairs(due) do
  local stored = redis.call('HGET', KEYS[3], member)
  local done, times, every, at, json
  if stored then done, times, every, at, json = string.match(stored, '^(%d+):(%d+):(%d+):(%d+):(.*)$') end
  if not json then
    redis.call('ZREM', KEYS[1], member)
    redis.call('ZREM', KEYS[2], member)
    redis.call('HDEL', KEYS[3], member)
  else
    redis.call('ZADD', KEYS[1], leaseEnd, member)
    local run = tonumber(done) + 1
    local nextDue = ''
    if run < tonumber(times) then nextDue = string.format('%d', tonumber(at) + tonumber(every)) end
    claimed[#claimed + 1] = { json, run, at, nextDue }
  end
end
return claimed
