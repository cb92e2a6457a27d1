import { Module } from '@nestjs/common';
import { ConnectionService } from '../connections/connection.service.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { HistoryModule } from '../history/history.module.js';
import { HistoryStore } from '../history/history.store.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import { RedisService } from '../redis/redis.service.js';
import { DeliveryService } from './delivery.service.js';
import { LocalDeliveryService } from './local-delivery.service.js';
import { RedisDeliveryService } from './redis-delivery.service.js';

@Module({
  imports: [ConnectionsModule, HistoryModule],
  providers: [
    {
      provide: DeliveryService,
      inject: [ConnectionService, RedisService, InstanceIdentity, HistoryStore],
      useFactory: (connections: ConnectionService, redis: RedisService | null, identity: InstanceIdentity, history: HistoryStore): DeliveryService =>
        redis ? new RedisDeliveryService(connections, redis, identity, history) : new LocalDeliveryService(connections, history),
    },
  ],
  exports: [DeliveryService, HistoryModule],
})
export class DeliveryModule {}
