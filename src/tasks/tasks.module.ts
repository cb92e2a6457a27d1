import { Module } from '@nestjs/common';
import { AcksModule } from '../acks/acks.module.js';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { StateBackend } from '../engine/state-backend.js';
import { GrantStore } from './grant.store.js';
import { HeartbeatService } from './heartbeat.service.js';
import { HeartbeatStore } from './heartbeat.store.js';
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
    { provide: HeartbeatStore, inject: [StateBackend], useFactory: (backend: StateBackend): HeartbeatStore => backend.heartbeatStore() },
    { provide: GrantStore, inject: [StateBackend], useFactory: (backend: StateBackend): GrantStore => backend.grantStore() },
  ],
  exports: [TaskService, HeartbeatService, TaskAccessService],
})
export class TasksModule {}
