import { Module } from '@nestjs/common';
import { AcksModule } from '../acks/acks.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { TasksModule } from '../tasks/tasks.module.js';
import { CatchUpService } from './catch-up.service.js';
import { TaskGateway } from './task.gateway.js';
import { WsErrorFilter } from './ws-error.filter.js';

@Module({
  imports: [AcksModule, AuthModule, ConnectionsModule, DeliveryModule, ConfirmationsModule, TasksModule],
  providers: [TaskGateway, WsErrorFilter, CatchUpService],
})
export class GatewayModule {}
