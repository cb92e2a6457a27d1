import { randomUUID } from 'node:crypto';
import { LuaScripts, ScriptReplies } from '../redis/lua-scripts.js';
import type { RedisService } from '../redis/redis.service.js';
import { HistoryEntry, HistoryLimits, HistoryPage, HistoryStore, PageLimits, StreamPosition, StreamRef } from './history.store.js';

type RawEntry = [id: string, fields: string[]];

/**
 * History in Redis, as Centrifugo's Redis engine keeps it (the RedisBroker's publish script
 * appends): a stream per user (and per
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
  private readonly scripts: LuaScripts;

  constructor(
    private readonly redis: RedisService,
    limits: HistoryLimits,
  ) {
    super(limits);
    this.scripts = LuaScripts.of(redis.commands);
  }

  async position(stream: StreamRef): Promise<StreamPosition> {
    const [top, epoch] = await this.read(stream, '');
    return { epoch, offset: Number(top) };
  }

  async readPage(stream: StreamRef, from: number, through: number | null, page: PageLimits): Promise<HistoryPage> {
    const [top, epoch, raw] = await this.read(stream, String(from), through === null ? '' : String(through), page);
    return { position: { epoch, offset: Number(top) }, entries: raw.map(toEntry) };
  }

  private read(stream: StreamRef, from: string, through = '', page: PageLimits = { frames: 0, bytes: 0 }): Promise<ScriptReplies['historyRead']> {
    const metaTtl = Math.ceil(this.limits.metaTtlMs / 1000);
    return this.redis.run(() => this.scripts.run('historyRead', historyKeys(this.redis, stream), [from, through, newEpoch(), metaTtl, this.limits.size, page.frames, page.bytes]));
  }
}

/** A stream's entries and its meta hash (epoch, top offset, bytes kept), in the stream's hash slot. */
export function historyKeys(redis: RedisService, stream: StreamRef): [string, string] {
  if (stream.kind === 'user') return [redis.userKey(stream.id, 'hist'), redis.userKey(stream.id, 'hist-meta')];
  if (stream.kind === 'task') return [redis.taskKey(stream.id, 'hist'), redis.taskKey(stream.id, 'hist-meta')];
  return [redis.globalKey('hist'), redis.globalKey('hist-meta')];
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
