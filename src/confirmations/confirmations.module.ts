import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Environment } from '../config/environment.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { RedisService } from '../redis/redis.service.js';
import { ConfirmationService } from './confirmation.service.js';
import { ConfirmationStore } from './confirmation.store.js';
import { ConfirmationsController } from './confirmations.controller.js';
import { MemoryConfirmationStore } from './memory-confirmation.store.js';
import { RedisConfirmationStore } from './redis-confirmation.store.js';

@Module({
  imports: [DeliveryModule, MetricsRegistryModule],
  controllers: [ConfirmationsController],
  providers: [
    ConfirmationService,
    {
      provide: ConfirmationStore,
      inject: [ConfigService, RedisService],
      useFactory: (config: ConfigService<Environment, true>, redis: RedisService | null): ConfirmationStore => {
        const retention = {
          retentionMs: config.get('CONFIRMATION_RETENTION_SECONDS', { infer: true }) * 1000,
          maxRetained: config.get('CONFIRMATION_MAX_RETAINED', { infer: true }),
        };
        return redis ? new RedisConfirmationStore(redis, retention) : new MemoryConfirmationStore(retention);
      },
    },
  ],
  exports: [ConfirmationService],
})
export class ConfirmationsModule {}
