import { Logger } from '@nestjs/common';
import { Cluster, Redis, RedisOptions } from 'ioredis';

/** A single Redis or a Redis Cluster: both take the same commands. */
export type RedisClient = Redis | Cluster;

/** Reconnect back-off: 100 ms doubling to 5 s, forever (Redis coming back must be noticed). */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt, 6), 5000);
}

/** Where the sentinels are and what they call the primary. */
export interface SentinelSettings {
  sentinels: Array<{ host: string; port: number }>;
  masterName: string;
  password?: string;
}

export interface RedisConnectionOptions {
  /** The server, or with `sentinel` only the primary's credentials, database and TLS. */
  url?: string;
  /** Ask these sentinels for the primary, and follow it after a failover. */
  sentinel?: SentinelSettings;
  commandTimeoutMs: number;
  name: string;
  /** False for commands: while Redis is away they fail at once instead of waiting. */
  queueWhileOffline: boolean;
  /** REDIS_URL names one node of a Redis Cluster; the others are discovered from it. */
  cluster: boolean;
  /**
   * Commands issued in the same tick go out in one write (ioredis auto-pipelining): with
   * many requests in flight, one system call and one Redis read for many commands.
   */
  autoPipelining?: boolean;
}

/**
 * One ioredis connection with the settings cluster mode relies on: commands can fail at once
 * while Redis is away (no offline queue, so a request answers 503 instead of hanging), a
 * command timeout, endless reconnects with back-off, and subscriptions restored by the
 * client after a reconnect. Errors are logged once per outage, not once per retry.
 */
export function openRedisConnection(options: RedisConnectionOptions): RedisClient {
  const logger = new Logger(`Redis:${options.name}`);
  const settings: RedisOptions = {
    connectionName: options.name,
    enableOfflineQueue: options.queueWhileOffline,
    enableAutoPipelining: options.autoPipelining ?? false,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: Math.max(options.commandTimeoutMs, 2000),
    maxRetriesPerRequest: 0,
    autoResubscribe: true,
    retryStrategy: reconnectDelayMs,
    // A READONLY reply (a failover in progress) reconnects instead of failing writes for long.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
  const redis = options.sentinel
    ? openThroughSentinels(options.sentinel, options.url, settings)
    : options.cluster
      ? openCluster(options.url!, settings)
      : new Redis(options.url!, settings);
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.error(`Redis unavailable (${err.message}); retrying with back-off`);
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.log('Redis available again');
    down = false;
  });
  if (options.sentinel) reopenWhenGivenUp(redis as Redis, logger);
  return redis;
}

/** Closes a connection for good: one opened through sentinels is not opened again. */
export async function closeRedisConnection(redis: RedisClient): Promise<void> {
  closedHere.add(redis);
  await redis.quit().catch(() => undefined);
  redis.disconnect();
}

const closedHere = new WeakSet<RedisClient>();
/** How long a connection that ioredis gave up on waits before it is opened again. */
const REOPEN_DELAY_MS = 1000;

/**
 * ioredis ends a sentinel connection for good (status `end`, no more reconnects) when its
 * own failover detector cuts a reconnect short: the detector's disconnect, on `+switch-master`,
 * makes the sentinel lookup in flight reject, and a rejected connect ends the client. After a
 * kill of the primary that race left an instance unready for good; such a connection is
 * opened again, unless it was closed here.
 */
function reopenWhenGivenUp(redis: Redis, logger: Logger): void {
  redis.on('end', () => {
    if (closedHere.has(redis)) return;
    logger.warn(`Redis connection ended by its client; opening it again in ${REOPEN_DELAY_MS} ms`);
    setTimeout(() => {
      if (!closedHere.has(redis) && redis.status === 'end') redis.connect().catch(() => undefined);
    }, REOPEN_DELAY_MS).unref();
  });
}

/** A Redis Cluster client seeded from one node's URL, with that URL's password and TLS. */
function openCluster(url: string, settings: RedisOptions): Cluster {
  const seed = new URL(url);
  const port = Number(seed.port || 6379);
  return new Cluster([{ host: seed.hostname, port }], {
    enableOfflineQueue: settings.enableOfflineQueue,
    enableAutoPipelining: settings.enableAutoPipelining,
    clusterRetryStrategy: settings.retryStrategy,
    slotsRefreshTimeout: settings.connectTimeout,
    // SSUBSCRIBE goes to the shard that owns the channel's slot (the broker's frame channels).
    shardedSubscribers: true,
    redisOptions: {
      ...settings,
      username: seed.username ? decodeURIComponent(seed.username) : undefined,
      password: seed.password ? decodeURIComponent(seed.password) : undefined,
      tls: seed.protocol === 'rediss:' ? {} : undefined,
    },
  });
}

/**
 * A connection to the primary the sentinels name. It checks the server's role when it
 * connects (a replica is refused and the sentinels asked again), and leaves as soon as a
 * sentinel announces a new primary (`+switch-master`), so a failover that leaves the old
 * primary running as a replica is followed too, not only one that kills it.
 */
function openThroughSentinels(sentinel: SentinelSettings, url: string | undefined, settings: RedisOptions): Redis {
  const primary = url ? new URL(url) : undefined;
  return new Redis({
    ...settings,
    sentinels: sentinel.sentinels,
    name: sentinel.masterName,
    role: 'master',
    sentinelPassword: sentinel.password,
    sentinelRetryStrategy: reconnectDelayMs,
    failoverDetector: true,
    username: primary?.username ? decodeURIComponent(primary.username) : undefined,
    password: primary?.password ? decodeURIComponent(primary.password) : undefined,
    db: primary && primary.pathname.length > 1 ? Number(primary.pathname.slice(1)) : 0,
    tls: primary?.protocol === 'rediss:' ? {} : undefined,
    enableTLSForSentinelMode: primary?.protocol === 'rediss:',
  });
}
