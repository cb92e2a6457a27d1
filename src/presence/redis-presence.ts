import { LuaScripts } from '../redis/lua-scripts.js';
import type { RedisService } from '../redis/redis.service.js';
import { PRESENCE_TTL_MS, Presence, PresentConnection } from './presence.js';

/**
 * Every user's open connections in a sorted set (`{u:<user>}:conns`, members
 * `<instance> <connection>`, scored by when they connected). Entries of a crashed instance
 * are never closed by it; they are the first picked as excess, which removes them, so they
 * cannot hold a user's slots for long.
 */
export class RedisPresence extends Presence {
  private readonly scripts: LuaScripts;

  constructor(
    private readonly redis: RedisService,
    private readonly instanceId: string,
    private readonly ttlMs = PRESENCE_TTL_MS,
  ) {
    super();
    this.scripts = LuaScripts.of(redis.commands);
  }

  async join(userId: string, connectionId: string, limit: number): Promise<PresentConnection[]> {
    // Not through RedisService.run: while Redis is away the caller lets the connection in quietly.
    const oldest = await this.scripts.run('presenceJoin', [this.key(userId)], [this.member(connectionId), Date.now(), limit, this.ttlMs]);
    return oldest.map((member) => {
      const cut = member.indexOf(' ');
      return { instance: member.slice(0, cut), connectionId: member.slice(cut + 1) };
    });
  }

  async leave(userId: string, connectionId: string): Promise<void> {
    await this.redis.commands.zrem(this.key(userId), this.member(connectionId));
  }

  private key(userId: string): string {
    return this.redis.userKey(userId, 'conns');
  }

  private member(connectionId: string): string {
    return `${this.instanceId} ${connectionId}`;
  }
}
