import { Module } from '@nestjs/common';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { HeartbeatService } from './heartbeat.service.js';
import { TaskService } from './task.service.js';
import { TasksController } from './tasks.controller.js';

@Module({
  imports: [ConfirmationsModule, DeliveryModule],
  controllers: [TasksController],
  providers: [TaskService, HeartbeatService],
  exports: [TaskService, HeartbeatService],
})
export class TasksModule {}
