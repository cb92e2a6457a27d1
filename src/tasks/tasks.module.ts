import { Module } from '@nestjs/common';
import { AcksModule } from '../acks/acks.module.js';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { RedisService } from '../redis/redis.service.js';
import { GrantStore, MemoryGrantStore, RedisGrantStore } from './grant.store.js';
import { HeartbeatService } from './heartbeat.service.js';
import { HeartbeatStore, MemoryHeartbeatStore } from './heartbeat.store.js';
import { RedisHeartbeatStore } from './redis-heartbeat.store.js';
import { TaskAccessService } from './task-access.service.js';
import { TaskService } from './task.service.js';
import { TasksController } from './tasks.controller.js';

@Module({
  imports: [AcksModule, ConfirmationsModule, ConnectionsModule, DeliveryModule],
  controllers: [TasksController],
  providers: [
    TaskService,
    HeartbeatService,
    TaskAccessService,
    {
      provide: HeartbeatStore,
      inject: [RedisService],
      useFactory: (redis: RedisService | null): HeartbeatStore => (redis ? new RedisHeartbeatStore(redis) : new MemoryHeartbeatStore()),
    },
    {
      provide: GrantStore,
      inject: [RedisService],
      useFactory: (redis: RedisService | null): GrantStore => (redis ? new RedisGrantStore(redis) : new MemoryGrantStore()),
    },
  ],
  exports: [TaskService, HeartbeatService, TaskAccessService],
})
export class TasksModule {}
