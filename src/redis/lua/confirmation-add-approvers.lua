-- Add approvers to a pending confirmation (escalation), in its own slot. Without approvers
-- before only its user could answer: it stays among them. KEYS: record. ARGV: users (JSON
-- array), groups (JSON array), at most this many per list. Answers the record, the users
-- and groups that are new (JSON arrays) and '1' when it had approvers before.
local state = redis.call('HGET', KEYS[1], 'st')
if not state then return {'not_found'} end
if state ~= 'pending' then return {'already', redis.call('HGETALL', KEYS[1])} end
local au = redis.call('HGET', KEYS[1], 'au')
local users, groups
if au then
  users = cjson.decode(au)
  groups = cjson.decode(redis.call('HGET', KEYS[1], 'ag') or '[]')
else
  users = {redis.call('HGET', KEYS[1], 'u')}
  groups = {}
end
local max = tonumber(ARGV[3])
local function merge(list, additions)
  local present, added = {}, {}
  for _, item in ipairs(list) do present[item] = true end
  for _, item in ipairs(additions) do
    if not present[item] and #list < max then
      present[item] = true
      list[#list + 1] = item
      added[#added + 1] = item
    end
  end
  return added
end
-- cjson writes an empty table as an object.
local function array(list)
  if #list == 0 then return '[]' end
  return cjson.encode(list)
end
local newUsers = merge(users, cjson.decode(ARGV[1]))
local newGroups = merge(groups, cjson.decode(ARGV[2]))
redis.call('HSET', KEYS[1], 'au', array(users), 'ag', array(groups))
if redis.call('HEXISTS', KEYS[1], 'ap') == 0 then redis.call('HSET', KEYS[1], 'ap', '{"policy":"any"}', 'po', 'any') end
return {'added', redis.call('HGETALL', KEYS[1]), array(newUsers), array(newGroups), au and '1' or '0'}
