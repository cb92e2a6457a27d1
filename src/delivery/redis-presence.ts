import type { Redis } from 'ioredis';
import type { DepartedConnection } from '../connections/connection.service.js';
import type { RedisService } from '../redis/redis.service.js';

/**
 * Join: count the connection and hand back the oldest others past the limit, removed at
 * once so two instances never pick the same one. KEYS: the user's connections. ARGV: member,
 * connected at, limit, key lifetime.
 */
const JOIN = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if excess <= 0 then return {} end
local oldest = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, excess)) do
  if member ~= ARGV[1] and #oldest < excess then
    redis.call('ZREM', KEYS[1], member)
    table.insert(oldest, member)
  end
end
return oldest
`;

/** A day without a new connection and a user's entries go (those of crashed instances too). */
const PRESENCE_TTL_MS = 86_400_000;

interface ScriptedRedis extends Redis {
  cgwPresenceJoin(...args: Array<string | number>): Promise<string[]>;
}

/**
 * Every user's open connections across the cluster, oldest first (`{u:<user>}:conns`,
 * members `<instance> <connection>`), so the per-user connection limit holds cluster-wide.
 * Entries of a crashed instance are never closed by it; they are the first picked as
 * excess, which removes them, so they cannot hold a user's slots for long.
 */
export class RedisPresence {
  private readonly redis: ScriptedRedis;

  constructor(
    private readonly shared: RedisService,
    private readonly instanceId: string,
  ) {
    this.redis = shared.commands as unknown as ScriptedRedis;
    this.redis.defineCommand('cgwPresenceJoin', { numberOfKeys: 1, lua: JOIN });
  }

  /** Counts the connection; answers the user's connections to close, oldest first. */
  async join(userId: string, connectionId: string, limit: number): Promise<Array<{ instance: string; connectionId: string }>> {
    const oldest = await this.redis.cgwPresenceJoin(this.key(userId), this.member(connectionId), Date.now(), limit, PRESENCE_TTL_MS);
    return oldest.map((member) => {
      const cut = member.indexOf(' ');
      return { instance: member.slice(0, cut), connectionId: member.slice(cut + 1) };
    });
  }

  async leave(departed: DepartedConnection): Promise<void> {
    await this.redis.zrem(this.key(departed.userId), this.member(departed.connectionId));
  }

  private key(userId: string): string {
    return this.shared.userKey(userId, 'conns');
  }

  private member(connectionId: string): string {
    return `${this.instanceId} ${connectionId}`;
  }
}
