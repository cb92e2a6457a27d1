import { Inject, Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RedisService } from '../redis/redis.service.js';

/** Readiness waits at most this long for Redis to answer a PING. */
const PING_TIMEOUT_MS = 1000;

/** Up when Redis answers a PING in time; in memory mode there is no Redis to check. */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Optional() @Inject(RedisService) private readonly redis: RedisService | null,
  ) {}

  get isConfigured(): boolean {
    return this.redis !== null && this.redis !== undefined;
  }

  async check(key = 'redis') {
    const indicator = this.indicators.check(key);
    if (!this.redis) return indicator.up({ mode: 'memory' });
    if (!this.redis.isReady) return indicator.down({ message: 'not connected' });
    const started = Date.now();
    try {
      await Promise.race([
        this.redis.commands.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS).unref()),
      ]);
      return indicator.up({ latency_ms: Date.now() - started });
    } catch (err) {
      return indicator.down({ message: (err as Error).message });
    }
  }
}
