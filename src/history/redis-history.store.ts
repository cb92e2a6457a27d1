import { randomUUID } from 'node:crypto';
import type { RedisService } from '../redis/redis.service.js';
import { Appended, decideRecovery, HistoryEntry, HistoryLimits, HistoryStore, offsetPrefix, Recovery, StreamPosition, StreamRef } from './history.store.js';

/**
 * Appends a frame and publishes it in one step, so the offset is assigned atomically and
 * frames reach the channel in offset order. KEYS: stream, meta hash (e = epoch, s = top).
 * ARGV: frame JSON up to its offset field, size, frame TTL s, meta TTL s, epoch if new,
 * now ms, skipped users (JSON or ''), channel ('' = none), envelope JSON up to its offset.
 */
const APPEND = `
redis.call('hsetnx', KEYS[2], 'e', ARGV[5])
local offset = redis.call('hincrby', KEYS[2], 's', 1)
redis.call('expire', KEYS[2], ARGV[4])
local frame = ARGV[1] .. offset .. '}'
if ARGV[7] ~= '' then
  redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[2], offset, 'd', frame, 't', ARGV[6], 's', ARGV[7])
else
  redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[2], offset, 'd', frame, 't', ARGV[6])
end
redis.call('expire', KEYS[1], ARGV[3])
local reached = 0
if ARGV[8] ~= '' then
  reached = redis.call('publish', ARGV[8], ARGV[9] .. '"o":' .. offset .. '}\\n' .. frame)
end
return {offset, reached}
`;

/** KEYS: stream, meta. ARGV: first offset wanted ('' = position only), epoch if new, meta TTL s, count. */
const READ = `
local meta = redis.call('hmget', KEYS[2], 'e', 's')
local epoch, top = meta[1], meta[2]
if not epoch then
  epoch = ARGV[2]
  top = '0'
  redis.call('hset', KEYS[2], 'e', epoch, 's', 0)
end
redis.call('expire', KEYS[2], ARGV[3])
local entries = {}
if ARGV[1] ~= '' then
  -- MAXLEN ~ may keep more than the size: read the newest ones.
  local from = math.max(tonumber(ARGV[1]), tonumber(top) - tonumber(ARGV[4]) + 1)
  entries = redis.call('xrange', KEYS[1], from, '+', 'COUNT', ARGV[4])
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
 * task, and one for broadcasts) whose entry ids are the offsets, trimmed by XADD MAXLEN ~
 * and expired with its last frame, and a meta hash holding the epoch and the top offset,
 * which outlives the frames so a late client is told "not recovered" rather than a reset.
 * A user's keys share the user's hash tag, a task's the task's.
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
      ),
    );
    return { offset, json: prefix + offset + '}', reached };
  }

  async position(stream: StreamRef): Promise<StreamPosition> {
    const [top, epoch] = await this.read(stream, '');
    return { epoch, offset: Number(top) };
  }

  async recover(stream: StreamRef, epoch: string, offset: number, forUser?: string): Promise<Recovery> {
    const [top, current, raw] = await this.read(stream, String(offset + 1));
    const position = { epoch: current, offset: Number(top) };
    return decideRecovery(position, epoch, offset, raw.map(toEntry), Date.now() - this.limits.ttlMs, forUser);
  }

  private read(stream: StreamRef, from: string): Promise<[string, string, RawEntry[]]> {
    const [key, meta] = this.keysOf(stream);
    return this.redis.run(() => this.scripts.cgwHistoryRead(key, meta, from, newEpoch(), Math.ceil(this.limits.metaTtlMs / 1000), this.limits.size));
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
