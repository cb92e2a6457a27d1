-- Create: one confirmation per callback_id, the caps and "born cancelled" decided in one
-- step. The total cap was decided just before by a reservation in the expiry schedule
-- (RESERVE): ARGV[14] is '1' when there was no room, which only a cancelled task ignores.
-- KEYS: record, user's pending set, cancellation, involvement, waiters.
-- ARGV[16..21], only with approvals: approval JSON, policy, quorum, forbidden voter, approver users and groups (JSON).
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[11] ~= '' and redis.call('HGET', KEYS[1], 'st') == 'pending' then
    redis.call('SADD', KEYS[5], ARGV[11])
    redis.call('PEXPIRE', KEYS[5], ARGV[12])
  end
  return {'existing', redis.call('HGETALL', KEYS[1])}
end
local cancelled = redis.call('EXISTS', KEYS[3]) == 1
if not cancelled then
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[10]) then return {'user_cap'} end
  if ARGV[14] == '1' then return {'total_cap'} end
end
local function store(...)
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'u', ARGV[2], 't', ARGV[3], 's', ARGV[4], 'ca', ARGV[5], 'ea', ARGV[6], 'sn', ARGV[7], 'm', ARGV[8], ...)
end
-- Approvals (ARGV[16..]; absent for a plain confirmation): the approval ('ap', JSON), its
-- policy, quorum and forbidden voter, and the approvers ('au'/'ag', absent: only the user).
if ARGV[16] then
  local plain = store
  store = function(...)
    plain(...)
    redis.call('HSET', KEYS[1], 'ap', ARGV[16], 'po', ARGV[17])
    if ARGV[18] ~= '' then redis.call('HSET', KEYS[1], 'qk', ARGV[18]) end
    if ARGV[19] ~= '' then redis.call('HSET', KEYS[1], 'fv', ARGV[19]) end
    if ARGV[20] ~= '' then redis.call('HSET', KEYS[1], 'au', ARGV[20], 'ag', ARGV[21]) end
  end
end
local kept = tonumber(ARGV[12])
if cancelled then
  store('st', 'cancelled', 'p', '0', 'sa', ARGV[5])
  kept = tonumber(ARGV[13])
  redis.call('PEXPIRE', KEYS[1], kept)
else
  store('st', 'pending', 'f', ARGV[9])
  redis.call('PEXPIRE', KEYS[1], ARGV[12])
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[12]) then redis.call('PEXPIRE', KEYS[2], ARGV[12]) end
  if ARGV[11] ~= '' then
    redis.call('SADD', KEYS[5], ARGV[11])
    redis.call('PEXPIRE', KEYS[5], ARGV[12])
  end
end
-- Involvement: the user's confirmations of the task, each until its record would expire.
-- A record can go sooner (settled, or dropped past CONFIRMATION_MAX_RETAINED): involves() checks.
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[15])
redis.call('ZADD', KEYS[4], tonumber(ARGV[15]) + kept, ARGV[1])
if redis.call('PTTL', KEYS[4]) < kept then redis.call('PEXPIRE', KEYS[4], kept) end
return {'created', cancelled and 'cancelled' or 'pending'}
