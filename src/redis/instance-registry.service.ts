import { Inject, Injectable, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { InstanceIdentity } from './instance-identity.js';
import { RedisService } from './redis.service.js';

const ANNOUNCE_MS = 2000;
/** An instance not heard from for this long counts as gone. */
const ALIVE_WINDOW_MS = 3 * ANNOUNCE_MS;

/** In cluster mode every instance says every few seconds that it is alive; /status counts them. */
@Injectable()
export class InstanceRegistry implements OnModuleInit, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly identity: InstanceIdentity,
    @Optional() @Inject(RedisService) private readonly redis: RedisService | null,
  ) {}

  onModuleInit(): void {
    if (!this.redis) return;
    // At once when the commands connection is ready (now, or when it becomes so, and after
    // every outage). Not isReady, which waits for the subscriber too: the commands' 'ready'
    // may already have passed while the subscriber is still connecting.
    if (this.redis.commands.status === 'ready') void this.announce();
    this.redis.commands.on('ready', () => void this.announce());
    this.timer = setInterval(() => void this.announce(), ANNOUNCE_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.redis?.commands.zrem(this.key(), this.identity.id).catch(() => undefined);
  }

  /** Instances heard from recently (only this one in memory mode). */
  async aliveCount(): Promise<number> {
    if (!this.redis) return 1;
    return this.redis.run(() => this.redis!.commands.zcount(this.key(), Date.now() - ALIVE_WINDOW_MS, '+inf'));
  }

  /** The ids of the instances heard from recently (only this one in memory mode). */
  async aliveIds(): Promise<string[]> {
    if (!this.redis) return [this.identity.id];
    return this.redis.commands.zrangebyscore(this.key(), Date.now() - ALIVE_WINDOW_MS, '+inf');
  }

  private async announce(): Promise<void> {
    const now = Date.now();
    await this.redis!.commands.multi()
      .zadd(this.key(), now, this.identity.id)
      .zremrangebyscore(this.key(), '-inf', now - 10 * ALIVE_WINDOW_MS)
      .exec()
      .catch(() => undefined);
  }

  private key(): string {
    return this.redis!.globalKey('instances');
  }
}
