import { describe, expect, it } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import { validateEnvironment } from './environment.js';
import { Settings } from './settings.js';

const settingsOf = (raw: Record<string, unknown>) => new Settings(new ConfigService(validateEnvironment(raw) as unknown as Record<string, unknown>));

describe('Settings', () => {
  it('chooses the backend from REDIS_URL and REDIS_CLUSTER', () => {
    expect(settingsOf({}).backend).toBe('memory');
    expect(settingsOf({ REDIS_URL: 'redis://localhost:6380' }).backend).toBe('redis');
    expect(settingsOf({ REDIS_URL: 'redis://localhost:6380', REDIS_CLUSTER: 'true' }).backend).toBe('redis-cluster');
  });

  it('reaches Redis through sentinels when REDIS_SENTINELS is set', () => {
    const settings = settingsOf({ REDIS_SENTINELS: '127.0.0.1:26379,127.0.0.1:26380', REDIS_SENTINEL_MASTER_NAME: 'gateway' });
    expect(settings.backend).toBe('redis');
    expect(settings.redis.sentinel).toEqual({ sentinels: [{ host: '127.0.0.1', port: 26379 }, { host: '127.0.0.1', port: 26380 }], masterName: 'gateway', password: undefined });
  });

  it('hands out sections with durations in milliseconds', () => {
    const settings = settingsOf({ REDIS_URL: 'redis://localhost:6380', REDIS_COMMAND_TIMEOUT_SECONDS: '1.5', HISTORY_TTL_SECONDS: '60', CONFIRMATION_RETENTION_SECONDS: '30' });
    expect(settings.redis).toEqual({ url: 'redis://localhost:6380', sentinel: undefined, cluster: false, keyPrefix: 'cgw:', commandTimeoutMs: 1500, waitReplicas: 0, waitTimeoutMs: 500 });
    expect(settings.history).toMatchObject({ size: 300, ttlMs: 60_000, metaTtlMs: 86_400_000 });
    expect(settings.confirmationRetention).toEqual({ retentionMs: 30_000, maxRetained: 100_000 });
  });
});
