-- Vote: one approver's vote, counted and decided in one step in the confirmation's own slot
-- (its user's), so votes from any instance never make two decisions or lose one.
-- src/approvals/policy.ts is the same rule for the memory store.
-- KEYS: record, user's pending set, waiters. ARGV: callback id, voter, voter's groups (JSON
-- array), proceed ('1'/'0'), option, has option, data JSON ('' none), feedback, has feedback,
-- at (ms), retention ms, the vote as JSON, the most votes kept.
-- Record fields: 'au'/'ag' the approver users/groups (JSON arrays; absent: only 'u' votes),
-- 'po' policy, 'qk' quorum, 'fv' the user who may not vote, 'v' the votes (a JSON array),
-- 'ny'/'nn' approvals/rejections, 'vu:<user>' that user voted; on settling 'o', 'd', 'by'.
local state = redis.call('HGET', KEYS[1], 'st')
if not state then return {'not_found'} end
if state ~= 'pending' then return {'already', redis.call('HGETALL', KEYS[1])} end
local voter = ARGV[2]
local withApproval = redis.call('HEXISTS', KEYS[1], 'ap') == 1
local au = redis.call('HGET', KEYS[1], 'au')
local users, groups = {}, {}
local listed = false
if au then
  users = cjson.decode(au)
  groups = cjson.decode(redis.call('HGET', KEYS[1], 'ag') or '[]')
  for _, user in ipairs(users) do
    if user == voter then listed = true break end
  end
  if not listed and #groups > 0 then
    local approving = {}
    for _, group in ipairs(groups) do approving[group] = true end
    for _, group in ipairs(cjson.decode(ARGV[3])) do
      if approving[group] then listed = true break end
    end
  end
else
  listed = redis.call('HGET', KEYS[1], 'u') == voter
end
if not listed then return {'not_an_approver'} end
if redis.call('HGET', KEYS[1], 'fv') == voter then return {'self_forbidden'} end
if redis.call('HEXISTS', KEYS[1], 'vu:' .. voter) == 1 then return {'already_voted'} end

local proceed = ARGV[4] == '1'
local yes = tonumber(redis.call('HGET', KEYS[1], 'ny') or '0')
local no = tonumber(redis.call('HGET', KEYS[1], 'nn') or '0')
if yes + no >= tonumber(ARGV[13]) then return {'votes_full'} end
if proceed then yes = yes + 1 else no = no + 1 end
local votes = redis.call('HGET', KEYS[1], 'v')
if not votes or votes == '' then votes = '[' .. ARGV[12] .. ']' else votes = string.sub(votes, 1, -2) .. ',' .. ARGV[12] .. ']' end

local policy = redis.call('HGET', KEYS[1], 'po') or 'any'
local electorate = au and #users or 1
local decided = false
local needed = 0
if policy == 'any' then
  decided = proceed and 'confirmed' or 'rejected'
elseif policy == 'all' then
  needed = math.max(electorate - yes, 0)
  if no > 0 then decided = 'rejected' elseif yes >= electorate then decided = 'confirmed' end
else
  local quorum = tonumber(redis.call('HGET', KEYS[1], 'qk') or '1')
  needed = quorum - yes
  if yes >= quorum then
    decided = 'confirmed'
    needed = 0
  elseif #groups == 0 and no > electorate - quorum then
    -- With groups the electorate is open: only the expiry ends it without the quorum.
    decided = 'rejected'
  end
end

if not decided then
  redis.call('HSET', KEYS[1], 'v', votes, 'ny', yes, 'nn', no, 'vu:' .. voter, '1')
  return {'recorded', votes, needed}
end
local fields = {'st', decided, 'p', decided == 'confirmed' and '1' or '0', 'sa', ARGV[10], 'f', ''}
if ARGV[9] == '1' then
  fields[#fields + 1] = 'fb'
  fields[#fields + 1] = ARGV[8]
end
-- A plain confirmation answered through a vote stays plain.
if withApproval then
  for _, v in ipairs({'v', votes, 'ny', yes, 'nn', no, 'vu:' .. voter, '1', 'by', voter}) do fields[#fields + 1] = v end
  if ARGV[6] == '1' then
    fields[#fields + 1] = 'o'
    fields[#fields + 1] = ARGV[5]
  end
  if decided == 'confirmed' and ARGV[7] ~= '' then
    fields[#fields + 1] = 'd'
    fields[#fields + 1] = ARGV[7]
  end
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[11])
redis.call('ZREM', KEYS[2], ARGV[1])
local waiting = redis.call('SMEMBERS', KEYS[3])
redis.call('DEL', KEYS[3])
return {'settled', redis.call('HGETALL', KEYS[1]), waiting}
