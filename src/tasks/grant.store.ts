import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type { RedisService } from '../redis/redis.service.js';

/** Grants kept at once in memory mode. */
export const MAX_GRANTS = 100_000;

/** Who may follow a task without owning it: grants by the task service, each with an expiry. */
export abstract class GrantStore {
  /** Grants (or extends) the user's right to follow the task until `expiresAt`. */
  abstract grant(taskId: string, userId: string, expiresAt: number): Promise<void>;

  /** True when the user had a grant, not yet expired, now withdrawn. */
  abstract revoke(taskId: string, userId: string): Promise<boolean>;

  /** When the user's grant ends; undefined when there is none, or it has ended. */
  abstract expiryOf(taskId: string, userId: string): Promise<number | undefined>;
}

/** A grant past its expiry is no grant (test/contracts/grant-store.spec.ts). */
function unlessEnded(expiresAt: number | undefined, now = Date.now()): number | undefined {
  return expiresAt !== undefined && expiresAt > now ? expiresAt : undefined;
}

export class MemoryGrantStore extends GrantStore {
  /** taskId -> userId -> grant expiry (epoch ms) */
  private readonly grants = new Map<string, Map<string, number>>();
  private count = 0;

  async grant(taskId: string, userId: string, expiresAt: number): Promise<void> {
    this.dropExpired(Date.now());
    let users = this.grants.get(taskId);
    const isNew = !users?.has(userId);
    if (isNew && this.count >= MAX_GRANTS) {
      throw new GatewayError(ErrorCode.CapacityExceeded, `${MAX_GRANTS} grants are already held`, 5);
    }
    if (!users) this.grants.set(taskId, (users = new Map()));
    users.set(userId, expiresAt);
    if (isNew) this.count++;
  }

  async revoke(taskId: string, userId: string): Promise<boolean> {
    const users = this.grants.get(taskId);
    const expiresAt = users?.get(userId);
    if (!users || expiresAt === undefined) return false;
    users.delete(userId);
    this.count--;
    if (users.size === 0) this.grants.delete(taskId);
    return unlessEnded(expiresAt) !== undefined;
  }

  async expiryOf(taskId: string, userId: string): Promise<number | undefined> {
    return unlessEnded(this.grants.get(taskId)?.get(userId));
  }

  /** Only when the cap is near: a sweep walks every grant. */
  private dropExpired(now: number): void {
    if (this.count < MAX_GRANTS) return;
    for (const [taskId, users] of this.grants) {
      for (const [userId, expiresAt] of users) {
        if (expiresAt <= now && users.delete(userId)) this.count--;
      }
      if (users.size === 0) this.grants.delete(taskId);
    }
  }
}

/** A task's grants in one hash (`{t:<task>}:grants`) that expires with its longest grant. */
export class RedisGrantStore extends GrantStore {
  constructor(private readonly shared: RedisService) {
    super();
  }

  grant(taskId: string, userId: string, expiresAt: number): Promise<void> {
    return this.shared.run(async () => {
      const key = this.shared.taskKey(taskId, 'grants');
      await this.shared.commands.multi().hset(key, userId, String(expiresAt)).pexpireat(key, expiresAt, 'GT').pexpireat(key, expiresAt, 'NX').exec();
    });
  }

  /** Reads and removes in one transaction: of concurrent revokes, one sees the grant. */
  revoke(taskId: string, userId: string): Promise<boolean> {
    return this.shared.run(async () => {
      const key = this.shared.taskKey(taskId, 'grants');
      const replies = await this.shared.commands.multi().hget(key, userId).hdel(key, userId).exec();
      const [[readError, at], [deleteError, deleted]] = replies ?? [[null, null], [null, 0]];
      if (readError || deleteError) throw readError ?? deleteError;
      return deleted === 1 && unlessEnded(Number(at)) !== undefined;
    });
  }

  expiryOf(taskId: string, userId: string): Promise<number | undefined> {
    return this.shared.run(async () => {
      const at = await this.shared.commands.hget(this.shared.taskKey(taskId, 'grants'), userId);
      return at === null ? undefined : unlessEnded(Number(at));
    });
  }
}
