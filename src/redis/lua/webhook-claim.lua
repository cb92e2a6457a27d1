-- Claims due webhook deliveries for one caller: each due one (or one whose lease ended)
-- is due again only when this lease ends, and its claim token is replaced, so two
-- instances never hold one attempt at once and a dead instance's claim is taken over.
-- KEYS: schedule (zset), records (hash), claims (hash).
-- ARGV: now, lease until, limit, claim token prefix (unique per call).
-- Answers {id, claim, record JSON, ...}.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, id in ipairs(ids) do
  local record = redis.call('HGET', KEYS[2], id)
  if record then
    local claim = ARGV[4] .. ':' .. i
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    redis.call('HSET', KEYS[3], id, claim)
    out[#out + 1] = id
    out[#out + 1] = claim
    out[#out + 1] = record
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return out
