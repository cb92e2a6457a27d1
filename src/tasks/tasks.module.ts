import { Module } from '@nestjs/common';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { HeartbeatService } from './heartbeat.service.js';
import { TaskAccessService } from './task-access.service.js';
import { TaskService } from './task.service.js';
import { TasksController } from './tasks.controller.js';

@Module({
  imports: [ConfirmationsModule, ConnectionsModule, DeliveryModule],
  controllers: [TasksController],
  providers: [TaskService, HeartbeatService, TaskAccessService],
  exports: [TaskService, HeartbeatService, TaskAccessService],
})
export class TasksModule {}
