-- Drop a retained decision early (never a pending one). KEYS: record. Answers 1 if dropped.
local state = redis.call('HGET', KEYS[1], 'st')
if not state or state == 'pending' then return 0 end
return redis.call('DEL', KEYS[1])
