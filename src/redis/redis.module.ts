import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Environment, parseSentinels } from '../config/environment.js';
import { InstanceIdentity } from './instance-identity.js';
import { InstanceRegistry } from './instance-registry.service.js';
import { RedisService } from './redis.service.js';

/**
 * Provides RedisService in cluster mode (REDIS_URL or REDIS_SENTINELS set) and null otherwise; the state
 * seams (confirmations, tasks, delivery) pick their implementation from it once, at start.
 */
@Global()
@Module({
  providers: [
    InstanceIdentity,
    InstanceRegistry,
    {
      provide: RedisService,
      inject: [ConfigService, InstanceIdentity],
      useFactory: (config: ConfigService<Environment, true>, identity: InstanceIdentity): RedisService | null => {
        const url = config.get('REDIS_URL', { infer: true });
        const sentinels = config.get('REDIS_SENTINELS', { infer: true });
        if (!url && !sentinels) return null;
        return new RedisService({
          url,
          sentinel: sentinels
            ? {
                sentinels: parseSentinels(sentinels),
                masterName: config.get('REDIS_SENTINEL_MASTER_NAME', { infer: true })!,
                password: config.get('REDIS_SENTINEL_PASSWORD', { infer: true }),
              }
            : undefined,
          cluster: config.get('REDIS_CLUSTER', { infer: true }),
          keyPrefix: config.get('REDIS_KEY_PREFIX', { infer: true }),
          commandTimeoutMs: config.get('REDIS_COMMAND_TIMEOUT_SECONDS', { infer: true }) * 1000,
          waitReplicas: config.get('REDIS_WAIT_REPLICAS', { infer: true }),
          waitTimeoutMs: config.get('REDIS_WAIT_TIMEOUT_MS', { infer: true }),
        }, identity.id);
      },
    },
  ],
  exports: [InstanceIdentity, InstanceRegistry, RedisService],
})
export class RedisModule {}
