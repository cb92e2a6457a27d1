-- Appends a frame to its stream's history and publishes it, as one step: offsets are
-- assigned atomically and frames reach the channel in offset order. Then trims the
-- stream's oldest frames until it holds at most `size` frames and `max bytes` bytes (the
-- meta hash's `b` counts the bytes kept; it restarts at 0 when the stream expired).
-- KEYS: stream, meta hash (e = epoch, s = top offset, b = bytes).
-- ARGV: frame JSON up to its offset value, size, frame TTL s, meta TTL s, epoch if new,
--       now ms, skipped users (JSON or ''), channel ('' = none), envelope JSON up to its
--       offset field, max bytes, 'publish' or 'spublish' (sharded, on a Redis Cluster: the
--       channel is in the stream's slot).
-- Answers {offset, how many subscribers the channel reached}.
redis.call('hsetnx', KEYS[2], 'e', ARGV[5])
local offset = redis.call('hincrby', KEYS[2], 's', 1)
redis.call('expire', KEYS[2], ARGV[4])
local frame = ARGV[1] .. offset .. '}'
if redis.call('exists', KEYS[1]) == 0 then redis.call('hset', KEYS[2], 'b', 0) end
if ARGV[7] ~= '' then
  redis.call('xadd', KEYS[1], offset, 'd', frame, 't', ARGV[6], 's', ARGV[7])
else
  redis.call('xadd', KEYS[1], offset, 'd', frame, 't', ARGV[6])
end
local bytes = redis.call('hincrby', KEYS[2], 'b', #frame)
local length = redis.call('xlen', KEYS[1])
local size, maxBytes = tonumber(ARGV[2]), tonumber(ARGV[10])
local dropped = nil
while length > size or bytes > maxBytes do
  local oldest = redis.call('xrange', KEYS[1], dropped and ('(' .. dropped) or '-', '+', 'COUNT', 1)[1]
  if not oldest then break end
  dropped = oldest[1]
  bytes = bytes - #oldest[2][2]
  length = length - 1
end
if dropped then
  redis.call('xtrim', KEYS[1], 'MINID', tonumber(string.match(dropped, '^%d+')) + 1)
  redis.call('hset', KEYS[2], 'b', bytes)
end
redis.call('expire', KEYS[1], ARGV[3])
local reached = 0
if ARGV[8] ~= '' then
  reached = redis.call(ARGV[11], ARGV[8], ARGV[9] .. '"o":' .. offset .. '}\n' .. frame)
end
return {offset, reached}
