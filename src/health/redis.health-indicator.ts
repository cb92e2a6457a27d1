import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { StateBackend } from '../engine/state-backend.js';

/** Readiness waits at most this long for the shared state to answer a PING. */
const PING_TIMEOUT_MS = 1000;

/** Up when the shared state (Redis) answers a PING in time; with the state in this process there is nothing to check. */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly backend: StateBackend,
  ) {}

  get isConfigured(): boolean {
    return this.backend.sharedState !== undefined;
  }

  async check(key = 'redis') {
    const indicator = this.indicators.check(key);
    const shared = this.backend.sharedState;
    if (!shared) return indicator.up({ mode: this.backend.kind });
    if (!shared.isReady) return indicator.down({ message: 'not connected' });
    const started = Date.now();
    try {
      await Promise.race([
        shared.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS).unref()),
      ]);
      return indicator.up({ latency_ms: Date.now() - started });
    } catch (err) {
      return indicator.down({ message: (err as Error).message });
    }
  }
}
