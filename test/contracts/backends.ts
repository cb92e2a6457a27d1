import { afterAll, beforeAll } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { RedisService, RedisSettings } from '../../src/redis/redis.service.js';
import { waitFor } from '../support/processes.js';
import { RedisClusterServers } from '../support/redis-cluster.js';
import { RedisServer } from '../support/redis-server.js';
import { requireProgram } from '../support/system-dependency.js';

export type BackendKind = 'memory' | 'redis' | 'cluster';

/** How one seam's stores are made: in memory, or on a RedisService. */
export interface StoreFactories<S, O> {
  memory(options: O): S;
  redis(shared: RedisService, options: O): S;
}

/**
 * One shared state as a contract case sees it: `stores()` answers three stores that share
 * it, as three instances of the gateway would (memory: one store, three callers), in a
 * namespace of their own, so cases never see each other's keys.
 */
export interface Backend<S, O> {
  readonly kind: BackendKind;
  start(): Promise<void>;
  stop(): Promise<void>;
  stores(options: O): Promise<[S, S, S]>;
}

const INSTANCES = 3;

class MemoryBackend<S, O> implements Backend<S, O> {
  readonly kind = 'memory';

  constructor(private readonly factories: StoreFactories<S, O>) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async stores(options: O): Promise<[S, S, S]> {
    const store = this.factories.memory(options);
    return [store, store, store];
  }
}

/** One redis-server (or one three-master Redis Cluster) for the whole file; three clients on it. */
class RedisBackend<S, O> implements Backend<S, O> {
  private servers?: { url: string; close(): Promise<void> };
  private readonly settings: RedisSettings[] = [];
  private readonly services: RedisService[] = [];

  constructor(
    readonly kind: 'redis' | 'cluster',
    private readonly factories: StoreFactories<S, O>,
  ) {}

  async start(): Promise<void> {
    this.servers = this.kind === 'cluster' ? await RedisClusterServers.start() : await RedisServer.start();
    for (let i = 0; i < INSTANCES; i++) {
      const settings: RedisSettings = { url: this.servers.url, cluster: this.kind === 'cluster', keyPrefix: '', commandTimeoutMs: 5000 };
      this.settings.push(settings);
      this.services.push(new RedisService(settings, randomUUID()));
    }
    await waitFor(() => this.services.every((s) => s.commands.status === 'ready'), 20_000, `${this.kind} clients to be ready`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.services.map((s) => s.onApplicationShutdown()));
    await this.servers?.close();
  }

  async stores(options: O): Promise<[S, S, S]> {
    // RedisService reads its settings object on every key: a new prefix is a new namespace.
    const prefix = `contract-${randomUUID().slice(0, 8)}:`;
    for (const settings of this.settings) settings.keyPrefix = prefix;
    const [a, b, c] = this.services.map((s) => this.factories.redis(s, options));
    return [a, b, c];
  }
}

const haveRedis = requireProgram('redis-server', 'redis-server') && requireProgram('redis-cli', 'redis-tools');

/**
 * The backends a contract suite runs on, for `describe.each`: memory always, Redis and a
 * three-master Redis Cluster when redis-server is installed (under CI it must be).
 */
export function backendsFor<S, O>(factories: StoreFactories<S, O>): Array<[BackendKind, Backend<S, O>]> {
  const backends: Array<[BackendKind, Backend<S, O>]> = [['memory', new MemoryBackend(factories)]];
  if (haveRedis) {
    backends.push(['redis', new RedisBackend('redis', factories)], ['cluster', new RedisBackend('cluster', factories)]);
  }
  return backends;
}

/** Redis clients log a line per outage; the contract output needs none. */
/** Starts the backend before the describe block's cases and stops it after, its warnings muted (outages are provoked on purpose). */
export function startedForThisFile(backend: { start(): Promise<void>; stop(): Promise<void> }): void {
  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    await backend.start();
  }, 60_000);
  afterAll(async () => {
    await backend.stop();
    Logger.overrideLogger(['error', 'warn', 'log']);
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
