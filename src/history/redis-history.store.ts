import { randomUUID } from 'node:crypto';
import type { RedisService } from '../redis/redis.service.js';
import { Appended, HistoryEntry, HistoryLimits, HistoryPage, HistoryStore, offsetPrefix, PageLimits, StreamPosition, StreamRef } from './history.store.js';

/**
 * Appends a frame and publishes it in one step, so the offset is assigned atomically and
 * frames reach the channel in offset order, then trims the stream's oldest frames until it
 * holds at most `size` frames and `max bytes` bytes of them (the meta hash's `b` counts the
 * bytes kept; it restarts at 0 with the stream when the stream expired). KEYS: stream, meta
 * hash (e = epoch, s = top, b = bytes). ARGV: frame JSON up to its offset field, size,
 * frame TTL s, meta TTL s, epoch if new, now ms, skipped users (JSON or ''), channel
 * ('' = none), envelope JSON up to its offset, max bytes.
 */
const APPEND = `
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
  reached = redis.call('publish', ARGV[8], ARGV[9] .. '"o":' .. offset .. '}\\n' .. frame)
end
return {offset, reached}
`;

/**
 * The stream's position and, unless `from` is '', one page of its entries from `from` up
 * to `through` (the top when ''): at most `frames` entries, and none more once `bytes`
 * bytes are in, so no reply (and no Redis output buffer) outgrows a page. KEYS: stream,
 * meta. ARGV: from, through, epoch if new, meta TTL s, size, frames, bytes.
 */
const READ = `
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
`;

type RawEntry = [id: string, fields: string[]];

interface ScriptedRedis {
  cgwHistoryAppend(...args: Array<string | number>): Promise<[number, number]>;
  cgwHistoryRead(...args: Array<string | number>): Promise<[string, string, RawEntry[]]>;
}

export interface Publication {
  channel: string;
  /** The envelope's JSON up to the offset field: `{` or `{"x":"…",`. */
  envelopePrefix: string;
}

export interface Published extends Appended {
  reached: number;
}

/**
 * History in Redis, as Centrifugo's Redis engine keeps it: a stream per user (and per
 * task, and one for broadcasts) whose entry ids are the offsets, trimmed to `size` frames
 * and `maxBytesPerStream` bytes on every append and expired with its last frame, and a meta hash holding the epoch and the top offset,
 * which outlives the frames so a late client is told "not recovered" rather than a reset.
 * A user's keys share the user's hash tag, a task's the task's.
 *
 * `maxBytesTotal` is not tracked here: a total would be one key every append touches, a
 * hot key and, on a Redis Cluster, in another hash slot than the stream (no atomic trim).
 * Redis holds at most `maxBytesPerStream` per stream, each stream gone `ttlMs` after its
 * last frame; Redis's own `maxmemory` is the total bound (README, "Running several instances").
 */
export class RedisHistoryStore extends HistoryStore {
  private readonly scripts: ScriptedRedis;

  constructor(
    private readonly redis: RedisService,
    limits: HistoryLimits,
  ) {
    super(limits);
    redis.commands.defineCommand('cgwHistoryAppend', { numberOfKeys: 2, lua: APPEND });
    redis.commands.defineCommand('cgwHistoryRead', { numberOfKeys: 2, lua: READ });
    this.scripts = redis.commands as unknown as ScriptedRedis;
  }

  async append(stream: StreamRef, json: string, skipUsers?: readonly string[]): Promise<Appended> {
    return this.appendAndPublish(stream, json, skipUsers);
  }

  /** Appends, then publishes `<envelope with "o":offset>\n<frame>` to the channel. */
  async appendAndPublish(stream: StreamRef, json: string, skipUsers?: readonly string[], publication?: Publication): Promise<Published> {
    const [key, meta] = this.keysOf(stream);
    const { size, ttlMs, metaTtlMs } = this.limits;
    const prefix = offsetPrefix(json, stream);
    const [offset, reached] = await this.redis.run(() =>
      this.scripts.cgwHistoryAppend(
        key,
        meta,
        prefix,
        size,
        Math.ceil(ttlMs / 1000),
        Math.ceil(metaTtlMs / 1000),
        newEpoch(),
        Date.now(),
        skipUsers && skipUsers.length > 0 ? JSON.stringify(skipUsers) : '',
        publication?.channel ?? '',
        publication?.envelopePrefix ?? '',
        this.limits.maxBytesPerStream,
      ),
    );
    return { offset, json: prefix + offset + '}', reached };
  }

  async position(stream: StreamRef): Promise<StreamPosition> {
    const [top, epoch] = await this.read(stream, '');
    return { epoch, offset: Number(top) };
  }

  async readPage(stream: StreamRef, from: number, through: number | null, page: PageLimits): Promise<HistoryPage> {
    const [top, epoch, raw] = await this.read(stream, String(from), through === null ? '' : String(through), page);
    return { position: { epoch, offset: Number(top) }, entries: raw.map(toEntry) };
  }

  private read(stream: StreamRef, from: string, through = '', page: PageLimits = { frames: 0, bytes: 0 }): Promise<[string, string, RawEntry[]]> {
    const [key, meta] = this.keysOf(stream);
    const metaTtl = Math.ceil(this.limits.metaTtlMs / 1000);
    return this.redis.run(() => this.scripts.cgwHistoryRead(key, meta, from, through, newEpoch(), metaTtl, this.limits.size, page.frames, page.bytes));
  }

  private keysOf(stream: StreamRef): [string, string] {
    if (stream.kind === 'user') return [this.redis.userKey(stream.id, 'hist'), this.redis.userKey(stream.id, 'hist-meta')];
    if (stream.kind === 'task') return [this.redis.taskKey(stream.id, 'hist'), this.redis.taskKey(stream.id, 'hist-meta')];
    return [this.redis.globalKey('hist'), this.redis.globalKey('hist-meta')];
  }
}

function newEpoch(): string {
  return randomUUID().slice(0, 8);
}

function toEntry([id, fields]: RawEntry): HistoryEntry {
  const entry: HistoryEntry = { offset: Number.parseInt(id, 10), at: 0, json: '' };
  for (let i = 0; i < fields.length; i += 2) {
    const value = fields[i + 1];
    if (fields[i] === 'd') entry.json = value;
    else if (fields[i] === 't') entry.at = Number(value);
    else if (fields[i] === 's') entry.skipUsers = JSON.parse(value) as string[];
  }
  return entry;
}
