import type { Redis } from 'ioredis';
import { RedisService } from '../redis/redis.service.js';
import { Heartbeat, HeartbeatStore } from './heartbeat.store.js';

/** Replace the task's heartbeat. KEYS: the task's heartbeat. ARGV: field/value pairs, ttl. */
const START = `
local replaced = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
for i = 1, #ARGV - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV])
return replaced
`;

/** Beat if still the owner. KEYS: the task's heartbeat. ARGV: id, owner, lease until. */
const BEAT = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'o') ~= ARGV[2] then return {} end
redis.call('HINCRBY', KEYS[1], 'b', 1)
redis.call('HSET', KEYS[1], 'l', ARGV[3])
return redis.call('HGETALL', KEYS[1])
`;

/** Take over when the lease ran out. KEYS: the task's heartbeat. ARGV: owner, now, lease until. */
const CLAIM = `
local lease = tonumber(redis.call('HGET', KEYS[1], 'l'))
if not lease or lease > tonumber(ARGV[2]) then return {} end
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'l', ARGV[3])
return redis.call('HGETALL', KEYS[1])
`;

/** Remove if it is this heartbeat. KEYS: the task's heartbeat. ARGV: id. */
const STOP = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return {} end
local removed = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return removed
`;

interface ScriptedRedis extends Redis {
  cgwHeartbeatStart(...args: Array<string | number>): Promise<string[]>;
  cgwHeartbeatBeat(...args: Array<string | number>): Promise<string[]>;
  cgwHeartbeatClaim(...args: Array<string | number>): Promise<string[]>;
  cgwHeartbeatStop(...args: Array<string | number>): Promise<string[]>;
}

/**
 * Heartbeats in Redis: the record in its task's slot (`{t:<task>}:hb`), an index from id to
 * task (`{hb:<id>}`), and one lease schedule (`{global}:hb-leases`) every instance scans for
 * heartbeats whose owner stopped renewing.
 */
export class RedisHeartbeatStore extends HeartbeatStore {
  private readonly redis: ScriptedRedis;
  private readonly leasesKey: string;

  constructor(private readonly shared: RedisService) {
    super();
    this.redis = shared.commands as unknown as ScriptedRedis;
    this.redis.defineCommand('cgwHeartbeatStart', { numberOfKeys: 1, lua: START });
    this.redis.defineCommand('cgwHeartbeatBeat', { numberOfKeys: 1, lua: BEAT });
    this.redis.defineCommand('cgwHeartbeatClaim', { numberOfKeys: 1, lua: CLAIM });
    this.redis.defineCommand('cgwHeartbeatStop', { numberOfKeys: 1, lua: STOP });
    this.leasesKey = shared.globalKey('hb-leases');
  }

  start(heartbeat: Heartbeat, leaseMs: number): Promise<Heartbeat | undefined> {
    return this.shared.run(async () => {
      const leaseUntil = Date.now() + leaseMs;
      const ttlMs = Math.max(heartbeat.endsAt - Date.now(), 1);
      const replaced = fromHash(await this.redis.cgwHeartbeatStart(this.taskKey(heartbeat.taskId), ...toFields(heartbeat, leaseUntil), ttlMs));
      await Promise.all([
        this.redis.set(this.indexKey(heartbeat.id), heartbeat.taskId, 'PX', ttlMs),
        this.redis.zadd(this.leasesKey, leaseUntil, heartbeat.taskId),
        replaced ? this.redis.del(this.indexKey(replaced.id)) : null,
      ]);
      return replaced;
    });
  }

  get(id: string): Promise<Heartbeat | undefined> {
    return this.shared.run(async () => {
      const taskId = await this.redis.get(this.indexKey(id));
      if (taskId === null) return undefined;
      const heartbeat = fromRecord(await this.redis.hgetall(this.taskKey(taskId)));
      return heartbeat?.id === id ? heartbeat : undefined;
    });
  }

  forTask(taskId: string): Promise<Heartbeat | undefined> {
    return this.shared.run(async () => fromRecord(await this.redis.hgetall(this.taskKey(taskId))));
  }

  stop(id: string): Promise<Heartbeat | undefined> {
    return this.shared.run(async () => {
      const taskId = await this.redis.get(this.indexKey(id));
      if (taskId === null) return undefined;
      const removed = fromHash(await this.redis.cgwHeartbeatStop(this.taskKey(taskId), id));
      await Promise.all([this.redis.del(this.indexKey(id)), removed ? this.redis.zrem(this.leasesKey, taskId) : null]);
      return removed;
    });
  }

  beat(heartbeat: Heartbeat, leaseMs: number): Promise<Heartbeat | undefined> {
    return this.shared.run(async () => {
      const leaseUntil = Date.now() + leaseMs;
      const current = fromHash(await this.redis.cgwHeartbeatBeat(this.taskKey(heartbeat.taskId), heartbeat.id, heartbeat.owner, leaseUntil));
      if (current) await this.redis.zadd(this.leasesKey, 'XX', leaseUntil, heartbeat.taskId);
      return current;
    });
  }

  claimOrphans(owner: string, leaseMs: (h: Heartbeat) => number): Promise<Heartbeat[]> {
    return this.shared.run(async () => {
      const now = Date.now();
      const expired = await this.redis.zrangebyscore(this.leasesKey, '-inf', now, 'LIMIT', 0, 50);
      const claimed: Heartbeat[] = [];
      for (const taskId of expired) {
        const current = fromRecord(await this.redis.hgetall(this.taskKey(taskId)));
        if (!current) {
          await this.redis.zrem(this.leasesKey, taskId);
          continue;
        }
        const leaseUntil = Date.now() + leaseMs(current);
        const heartbeat = fromHash(await this.redis.cgwHeartbeatClaim(this.taskKey(taskId), owner, now, leaseUntil));
        if (!heartbeat) continue;
        await this.redis.zadd(this.leasesKey, leaseUntil, taskId);
        claimed.push(heartbeat);
      }
      return claimed;
    });
  }

  private taskKey(taskId: string): string {
    return this.shared.taskKey(taskId, 'hb');
  }

  private indexKey(id: string): string {
    return this.shared.idKey('hb', id);
  }
}

function toFields(h: Heartbeat, leaseUntil: number): string[] {
  return [
    'id', h.id, 'u', h.userId, 't', h.taskId, 'iv', String(h.intervalSeconds), 'm', h.message,
    'sa', String(h.startedAt), 'ea', String(h.endsAt), 'b', String(h.beats), 'o', h.owner, 'l', String(leaseUntil),
  ];
}

function fromHash(flat: string[]): Heartbeat | undefined {
  const record: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) record[flat[i]] = flat[i + 1];
  return fromRecord(record);
}

function fromRecord(r: Record<string, string>): Heartbeat | undefined {
  if (r.id === undefined) return undefined;
  return {
    id: r.id,
    userId: r.u,
    taskId: r.t,
    intervalSeconds: Number(r.iv),
    message: r.m,
    startedAt: Number(r.sa),
    endsAt: Number(r.ea),
    beats: Number(r.b),
    owner: r.o,
  };
}
