-- Complete run ARGV[2] of job ARGV[1]: when it is the job's current run and was handed out,
-- the job moves to its next run (due `every` after this one was), or ends after its last.
-- Anything else (twice, late, cancelled, never claimed) changes nothing. KEYS: the schedule
-- by when a run is handed out next, the index by confirmation, the jobs. Answers the next
-- run's due time, or '' when there is none or nothing changed.
local stored = redis.call('HGET', KEYS[3], ARGV[1])
if not stored then return '' end
local done, times, every, at, json = string.match(stored, '^(%d+):(%d+):(%d+):(%d+):(.*)$')
if not json or tonumber(done) + 1 ~= tonumber(ARGV[2]) then return '' end
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1])) == tonumber(at) then return '' end
if tonumber(ARGV[2]) >= tonumber(times) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return ''
end
local nextDue = string.format('%d', tonumber(at) + tonumber(every))
redis.call('ZADD', KEYS[1], nextDue, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ':' .. times .. ':' .. every .. ':' .. nextDue .. ':' .. json)
return nextDue
