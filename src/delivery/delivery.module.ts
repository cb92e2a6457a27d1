import { Module } from '@nestjs/common';
import { ConnectionService } from '../connections/connection.service.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import { RedisService } from '../redis/redis.service.js';
import { DeliveryService } from './delivery.service.js';
import { LocalDeliveryService } from './local-delivery.service.js';
import { RedisDeliveryService } from './redis-delivery.service.js';

@Module({
  imports: [ConnectionsModule],
  providers: [
    {
      provide: DeliveryService,
      inject: [ConnectionService, RedisService, InstanceIdentity],
      useFactory: (connections: ConnectionService, redis: RedisService | null, identity: InstanceIdentity): DeliveryService =>
        redis ? new RedisDeliveryService(connections, redis, identity) : new LocalDeliveryService(connections),
    },
  ],
  exports: [DeliveryService],
})
export class DeliveryModule {}
