import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { closeRedisConnection, openRedisConnection, RedisClient, SentinelSettings } from './redis-connection.js';
import { ReplicationFence } from './replication-fence.js';

export interface RedisSettings {
  /** The server; with `sentinel`, only the primary's credentials, database and TLS (optional). */
  url?: string;
  sentinel?: SentinelSettings;
  cluster: boolean;
  keyPrefix: string;
  commandTimeoutMs: number;
  /** Replicas a confirmation's creation and decision must reach before they are acknowledged (0: none). */
  waitReplicas?: number;
  waitTimeoutMs?: number;
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
  /** Set with REDIS_WAIT_REPLICAS: waits for replicas on a connection of its own (WAIT blocks it). */
  readonly fence: ReplicationFence | null = null;
  private readonly fenceConnection: RedisClient | null = null;
  private readonly logger = new Logger(RedisService.name);

  constructor(
    private readonly settings: RedisSettings,
    instanceId: string,
  ) {
    const name = `cgw-${instanceId.slice(0, 8)}`;
    const { url, sentinel, commandTimeoutMs, cluster } = settings;
    const server = { url, sentinel, commandTimeoutMs, cluster };
    this.commands = openRedisConnection({ ...server, name, queueWhileOffline: false, autoPipelining: true });
    // Subscriptions asked for while Redis is away are sent when it returns.
    this.subscriber = openRedisConnection({ ...server, name: `${name}-sub`, queueWhileOffline: true });
    const replicas = settings.waitReplicas ?? 0;
    if (replicas > 0) {
      this.fenceConnection = openRedisConnection({ ...server, name: `${name}-wait`, queueWhileOffline: false });
      this.fence = new ReplicationFence(this.fenceConnection, {
        replicas,
        timeoutMs: settings.waitTimeoutMs ?? 500,
        channel: this.channel('fence'),
      });
    }
  }

  private get connections(): RedisClient[] {
    return this.fenceConnection ? [this.commands, this.subscriber, this.fenceConnection] : [this.commands, this.subscriber];
  }

  get isReady(): boolean {
    return this.connections.every((connection) => connection.status === 'ready');
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

  /** A Redis Cluster: frames travel by sharded pub/sub (src/broker/frame-channels.ts). */
  get isCluster(): boolean {
    return this.settings.cluster;
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
    await Promise.allSettled(this.connections.map((connection) => closeRedisConnection(connection)));
  }
}

/**
 * User, task and callback ids are caller-chosen: escaping the characters that structure a
 * key (and its hash tag) keeps one id from naming another id's key.
 */
export function escapeKeyPart(part: string): string {
  return /[%{}:]/.test(part) ? part.replace(/[%{}:]/g, (c) => `%${c.charCodeAt(0).toString(16)}`) : part;
}
