import { Module } from '@nestjs/common';
import { ConnectionService } from '../connections/connection.service.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { ConnectionsController } from './connections.controller.js';
import { HistoryModule } from '../history/history.module.js';
import { HistoryStore } from '../history/history.store.js';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import { InstanceRegistry } from '../redis/instance-registry.service.js';
import { RedisService } from '../redis/redis.service.js';
import { DeliveryService } from './delivery.service.js';
import { LocalDeliveryService } from './local-delivery.service.js';
import { RedisDeliveryService } from './redis-delivery.service.js';

@Module({
  imports: [ConnectionsModule, HistoryModule, MetricsRegistryModule],
  controllers: [ConnectionsController],
  providers: [
    {
      provide: DeliveryService,
      inject: [ConnectionService, RedisService, InstanceIdentity, HistoryStore, MetricsService, InstanceRegistry],
      useFactory: (
        connections: ConnectionService,
        redis: RedisService | null,
        identity: InstanceIdentity,
        history: HistoryStore,
        metrics: MetricsService,
        registry: InstanceRegistry,
      ): DeliveryService =>
        redis ? new RedisDeliveryService(connections, redis, identity, history, metrics, registry) : new LocalDeliveryService(connections, history, identity, metrics),
    },
  ],
  exports: [DeliveryService, HistoryModule],
})
export class DeliveryModule {}
