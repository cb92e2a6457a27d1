import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { openRedisConnection, RedisClient } from './redis-connection.js';

export interface RedisSettings {
  url: string;
  cluster: boolean;
  keyPrefix: string;
  commandTimeoutMs: number;
}

/** Seconds a caller should wait before retrying while Redis is away. */
export const REDIS_RETRY_AFTER_SECONDS = 2;

/**
 * The shared Redis of cluster mode: one connection for commands, one for pub/sub (a
 * subscribed connection can run nothing else), this instance's id, and key naming.
 *
 * Keys use hash tags so Redis Cluster can serve them: everything one atomic script touches
 * shares a tag (`{u:<user>}` for a user's confirmations, `{t:<task>}` for a task's state),
 * and no script touches two tags.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly commands: RedisClient;
  readonly subscriber: RedisClient;
  private readonly logger = new Logger(RedisService.name);

  constructor(
    private readonly settings: RedisSettings,
    instanceId: string,
  ) {
    const name = `cgw-${instanceId.slice(0, 8)}`;
    const { url, commandTimeoutMs, cluster } = settings;
    this.commands = openRedisConnection({ url, commandTimeoutMs, cluster, name, queueWhileOffline: false, autoPipelining: true });
    // Subscriptions asked for while Redis is away are sent when it returns.
    this.subscriber = openRedisConnection({ url, commandTimeoutMs, cluster, name: `${name}-sub`, queueWhileOffline: true });
  }

  get isReady(): boolean {
    return this.commands.status === 'ready' && this.subscriber.status === 'ready';
  }

  /** A key from parts; ids in it are escaped (see escapeKeyPart). */
  key(...parts: string[]): string {
    return this.settings.keyPrefix + parts.join(':');
  }

  /** A key in the slot of one user's confirmations. */
  userKey(userId: string, ...parts: string[]): string {
    return this.key(`{u:${escapeKeyPart(userId)}}`, ...parts.map(escapeKeyPart));
  }

  /** A key in the slot of one task's shared state. */
  taskKey(taskId: string, ...parts: string[]): string {
    return this.key(`{t:${escapeKeyPart(taskId)}}`, ...parts.map(escapeKeyPart));
  }

  /** A key in a slot of its own, for one id (an index entry). */
  idKey(kind: string, id: string): string {
    return this.key(`{${kind}:${escapeKeyPart(id)}}`);
  }

  /** Keys that are one per deployment (the expiry schedule, the instance list). */
  globalKey(name: string): string {
    return this.key('{global}', name);
  }

  channel(kind: string, id = ''): string {
    return this.key('ch', kind, escapeKeyPart(id));
  }

  /**
   * Runs a Redis operation; a failure becomes a 503 `unavailable` with Retry-After, so
   * callers retry instead of seeing a 500, and nothing above the store knows about Redis.
   */
  async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      this.logger.warn(`Redis command failed: ${(err as Error).message}`);
      throw new GatewayError(ErrorCode.Unavailable, 'Shared state (Redis) is unavailable; retry shortly', REDIS_RETRY_AFTER_SECONDS);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }
}

/**
 * User, task and callback ids are caller-chosen: escaping the characters that structure a
 * key (and its hash tag) keeps one id from naming another id's key.
 */
export function escapeKeyPart(part: string): string {
  return /[%{}:]/.test(part) ? part.replace(/[%{}:]/g, (c) => `%${c.charCodeAt(0).toString(16)}`) : part;
}
