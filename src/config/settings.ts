import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { RedisSettings } from '../redis/redis.service.js';
import { Environment, parseSentinels } from './environment.js';

/** Where shared state lives: this process, one Redis, or a Redis Cluster. */
export type BackendKind = 'memory' | 'redis' | 'redis-cluster';

export type RedisSection = RedisSettings;

export interface HistorySection {
  size: number;
  ttlMs: number;
  metaTtlMs: number;
  maxBytesPerStream: number;
  maxBytesTotal: number;
}

export interface ConfirmationRetentionSection {
  retentionMs: number;
  maxRetained: number;
}

export interface HoldingSection {
  /** Longest one HTTP call (POST /notify, a GET /confirmations long poll) is held for a decision. */
  maxWaitMs: number;
}

/**
 * The validated settings in typed sections, durations already in milliseconds, so a module
 * reads what it needs without knowing variable names or units. The variables stay those of
 * `environment.ts` (and README's table).
 */
@Injectable()
export class Settings {
  constructor(private readonly config: ConfigService<Environment, true>) {}

  get backend(): BackendKind {
    if (!this.get('REDIS_URL') && !this.get('REDIS_SENTINELS')) return 'memory';
    return this.get('REDIS_CLUSTER') ? 'redis-cluster' : 'redis';
  }

  /** Only when a backend on Redis is configured. */
  get redis(): RedisSection {
    const sentinels = this.get('REDIS_SENTINELS');
    return {
      url: this.get('REDIS_URL'),
      sentinel: sentinels
        ? { sentinels: parseSentinels(sentinels), masterName: this.get('REDIS_SENTINEL_MASTER_NAME')!, password: this.get('REDIS_SENTINEL_PASSWORD') }
        : undefined,
      cluster: this.get('REDIS_CLUSTER'),
      keyPrefix: this.get('REDIS_KEY_PREFIX'),
      commandTimeoutMs: this.get('REDIS_COMMAND_TIMEOUT_SECONDS') * 1000,
      waitReplicas: this.get('REDIS_WAIT_REPLICAS'),
      waitTimeoutMs: this.get('REDIS_WAIT_TIMEOUT_MS'),
    };
  }

  get history(): HistorySection {
    return {
      size: this.get('HISTORY_SIZE'),
      ttlMs: this.get('HISTORY_TTL_SECONDS') * 1000,
      metaTtlMs: this.get('HISTORY_META_TTL_SECONDS') * 1000,
      maxBytesPerStream: this.get('HISTORY_MAX_BYTES_PER_STREAM'),
      maxBytesTotal: this.get('HISTORY_MAX_BYTES_TOTAL'),
    };
  }

  get confirmationRetention(): ConfirmationRetentionSection {
    return {
      retentionMs: this.get('CONFIRMATION_RETENTION_SECONDS') * 1000,
      maxRetained: this.get('CONFIRMATION_MAX_RETAINED'),
    };
  }

  get holding(): HoldingSection {
    return { maxWaitMs: this.get('NOTIFY_MAX_WAIT_SECONDS') * 1000 };
  }

  private get<K extends keyof Environment>(key: K): Environment[K] {
    return this.config.get(key, { infer: true });
  }
}
