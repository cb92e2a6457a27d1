import type { RedisService } from './redis.service.js';

/** The instances sharing the state, as /status and GET /connections count them. */
export abstract class InstanceRegistry {
  /** Instances heard from recently (this one included). */
  abstract aliveCount(): Promise<number>;

  /** The ids of the instances heard from recently (this one included). */
  abstract aliveIds(): Promise<string[]>;
}

/** One process: this instance is the only one. */
export class SingleInstanceRegistry extends InstanceRegistry {
  constructor(private readonly instanceId: string) {
    super();
  }

  async aliveCount(): Promise<number> {
    return 1;
  }

  async aliveIds(): Promise<string[]> {
    return [this.instanceId];
  }
}

const ANNOUNCE_MS = 2000;
/** An instance not heard from for this long counts as gone. */
const ALIVE_WINDOW_MS = 3 * ANNOUNCE_MS;

/** Every instance says every few seconds that it is alive, in one sorted set. */
export class RedisInstanceRegistry extends InstanceRegistry {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisService,
    private readonly instanceId: string,
  ) {
    super();
  }

  start(): void {
    // At once when the commands connection is ready (now, or when it becomes so, and after
    // every outage). Not isReady, which waits for the subscriber too: the commands' 'ready'
    // may already have passed while the subscriber is still connecting.
    if (this.redis.commands.status === 'ready') void this.announce();
    this.redis.commands.on('ready', () => void this.announce());
    this.timer = setInterval(() => void this.announce(), ANNOUNCE_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.commands.zrem(this.key(), this.instanceId).catch(() => undefined);
  }

  async aliveCount(): Promise<number> {
    return this.redis.run(() => this.redis.commands.zcount(this.key(), Date.now() - ALIVE_WINDOW_MS, '+inf'));
  }

  async aliveIds(): Promise<string[]> {
    return this.redis.run(() => this.redis.commands.zrangebyscore(this.key(), Date.now() - ALIVE_WINDOW_MS, '+inf'));
  }

  private async announce(): Promise<void> {
    const now = Date.now();
    await this.redis.commands
      .multi()
      .zadd(this.key(), now, this.instanceId)
      .zremrangebyscore(this.key(), '-inf', now - 10 * ALIVE_WINDOW_MS)
      .exec()
      .catch(() => undefined);
  }

  private key(): string {
    return this.redis.globalKey('instances');
  }
}
