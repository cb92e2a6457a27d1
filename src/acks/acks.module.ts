import { Module } from '@nestjs/common';
import { ConnectionsModule } from '../connections/connections.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { RedisService } from '../redis/redis.service.js';
import { AckService } from './ack.service.js';
import { AckStore } from './ack.store.js';
import { MemoryAckStore } from './memory-ack.store.js';
import { MessagesController } from './messages.controller.js';
import { RedisAckStore } from './redis-ack.store.js';

@Module({
  imports: [ConnectionsModule, DeliveryModule, MetricsRegistryModule],
  controllers: [MessagesController],
  providers: [
    AckService,
    {
      provide: AckStore,
      inject: [RedisService],
      useFactory: (redis: RedisService | null): AckStore => (redis ? new RedisAckStore(redis) : new MemoryAckStore()),
    },
  ],
  exports: [AckService],
})
export class AcksModule {}
