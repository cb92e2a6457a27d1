-- A stream's position (made, with the given epoch, if the stream is unknown) and, unless
-- `from` is '', one page of its entries from `from` up to `through` (the top when ''): at
-- most `frames` entries, and none more once `bytes` bytes are in, so no reply (and no Redis
-- output buffer) outgrows a page.
-- KEYS: stream, meta hash. ARGV: from, through, epoch if new, meta TTL s, size, frames, bytes.
-- Answers {top offset, epoch, entries}.
local meta = redis.call('hmget', KEYS[2], 'e', 's')
local epoch, top = meta[1], meta[2]
if not epoch then
  epoch = ARGV[3]
  top = '0'
  redis.call('hset', KEYS[2], 'e', epoch, 's', 0)
end
redis.call('expire', KEYS[2], ARGV[4])
local entries = {}
if ARGV[1] ~= '' then
  local through = ARGV[2] ~= '' and math.min(tonumber(ARGV[2]), tonumber(top)) or tonumber(top)
  -- Never more than the last size frames, even if a trim was skipped.
  local cursor = math.max(tonumber(ARGV[1]), tonumber(top) - tonumber(ARGV[5]) + 1)
  local frames, maxBytes, bytes = tonumber(ARGV[6]), tonumber(ARGV[7]), 0
  while cursor <= through and #entries < frames and (#entries == 0 or bytes < maxBytes) do
    local entry = redis.call('xrange', KEYS[1], cursor, through, 'COUNT', 1)[1]
    if not entry then break end
    entries[#entries + 1] = entry
    bytes = bytes + #entry[2][2]
    cursor = tonumber(string.match(entry[1], '^%d+')) + 1
  end
end
return {top, epoch, entries}
