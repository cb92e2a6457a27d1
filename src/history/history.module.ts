import { Injectable, Module, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Environment } from '../config/environment.js';
import { RedisService } from '../redis/redis.service.js';
import { HistoryStore } from './history.store.js';
import { MemoryHistoryStore } from './memory-history.store.js';
import { RedisHistoryStore } from './redis-history.store.js';

const SWEEP_INTERVAL_MS = 30_000;

/** Drops expired frames and forgotten streams of the memory store (Redis expires its own). */
@Injectable()
export class HistorySweeper implements OnModuleInit, OnModuleDestroy {
  private timer?: NodeJS.Timeout;

  constructor(private readonly history: HistoryStore) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.history.sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}

@Module({
  providers: [
    {
      provide: HistoryStore,
      inject: [ConfigService, RedisService],
      useFactory: (config: ConfigService<Environment, true>, redis: RedisService | null): HistoryStore => {
        const limits = {
          size: config.get('HISTORY_SIZE', { infer: true }),
          ttlMs: config.get('HISTORY_TTL_SECONDS', { infer: true }) * 1000,
          metaTtlMs: config.get('HISTORY_META_TTL_SECONDS', { infer: true }) * 1000,
          maxBytesPerStream: config.get('HISTORY_MAX_BYTES_PER_STREAM', { infer: true }),
          maxBytesTotal: config.get('HISTORY_MAX_BYTES_TOTAL', { infer: true }),
        };
        return redis ? new RedisHistoryStore(redis, limits) : new MemoryHistoryStore(limits);
      },
    },
    HistorySweeper,
  ],
  exports: [HistoryStore],
})
export class HistoryModule {}
