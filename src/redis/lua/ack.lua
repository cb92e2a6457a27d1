-- Records the acknowledgement if the message is still unacknowledged and unexpired.
-- KEYS: the message. ARGV: user, connection, now ms, retention ms, and optionally a
-- channel the new record is published on (wakes callers waiting on any instance).
-- Returns {outcome, record JSON}.
local raw = redis.call('get', KEYS[1])
if not raw then return {'not_found', ''} end
local message = cjson.decode(raw)
if message.ackedAt ~= cjson.null and message.ackedAt ~= nil then return {'already', raw} end
if tonumber(ARGV[3]) >= message.expiresAt then return {'expired', raw} end
message.ackedAt = tonumber(ARGV[3])
message.ackedBy = ARGV[1]
message.ackedConnection = ARGV[2]
local updated = cjson.encode(message)
redis.call('set', KEYS[1], updated, 'PX', ARGV[4])
if ARGV[5] and ARGV[5] ~= '' then redis.call('publish', ARGV[5], updated) end
return {'acked', updated}
