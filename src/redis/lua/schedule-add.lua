-- Schedule a job's first run (replacing a job of the same confirmation and name). KEYS: the
-- schedule by when a run is handed out next, the index by confirmation (lexical, score 0),
-- the jobs. ARGV: member (<callback_id>\n<name>), due (epoch ms), times, every (ms), the
-- job's JSON. A job is stored as '<runs done>:<times>:<every>:<current run due>:<json>'.
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], '0:' .. ARGV[3] .. ':' .. ARGV[4] .. ':' .. ARGV[2] .. ':' .. ARGV[5])
return 1
