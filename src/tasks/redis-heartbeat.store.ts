import { LuaScripts } from '../redis/lua-scripts.js';
import type { RedisClient } from '../redis/redis-connection.js';
import { RedisService } from '../redis/redis.service.js';
import { Heartbeat, HeartbeatStore } from './heartbeat.store.js';

/**
 * Heartbeats in Redis: the record in its task's slot (`{t:<task>}:hb`), an index from id to
 * task (`{hb:<id>}`), and one lease schedule (`{global}:hb-leases`) every instance scans for
 * heartbeats whose owner stopped renewing.
 */
export class RedisHeartbeatStore extends HeartbeatStore {
  private readonly redis: RedisClient;
  private readonly scripts: LuaScripts;
  private readonly leasesKey: string;

  constructor(private readonly shared: RedisService) {
    super();
    this.redis = shared.commands;
    this.scripts = LuaScripts.of(shared.commands);
    this.leasesKey = shared.globalKey('hb-leases');
  }

  start(heartbeat: Heartbeat, leaseMs: number): Promise<Heartbeat | undefined> {
    return this.shared.run(async () => {
      const leaseUntil = Date.now() + leaseMs;
      const ttlMs = Math.max(heartbeat.endsAt - Date.now(), 1);
      const replaced = fromHash(await this.scripts.run('heartbeatStart', [this.taskKey(heartbeat.taskId)], [...toFields(heartbeat, leaseUntil), ttlMs]));
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
      const removed = fromHash(await this.scripts.run('heartbeatStop', [this.taskKey(taskId)], [id]));
      await Promise.all([this.redis.del(this.indexKey(id)), removed ? this.redis.zrem(this.leasesKey, taskId) : null]);
      return removed;
    });
  }

  beat(heartbeat: Heartbeat, leaseMs: number): Promise<Heartbeat | undefined> {
    return this.shared.run(async () => {
      const leaseUntil = Date.now() + leaseMs;
      const current = fromHash(await this.scripts.run('heartbeatBeat', [this.taskKey(heartbeat.taskId)], [heartbeat.id, heartbeat.owner, leaseUntil]));
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
        const heartbeat = fromHash(await this.scripts.run('heartbeatClaim', [this.taskKey(taskId)], [owner, now, leaseUntil]));
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
