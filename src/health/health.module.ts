import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { TasksModule } from '../tasks/tasks.module.js';
import { HealthController } from './health.controller.js';
import { RedisHealthIndicator } from './redis.health-indicator.js';
import { ServerStateService } from './server-state.service.js';
import { StatusService } from './status.service.js';
import { WebSocketHealthIndicator } from './websocket.health-indicator.js';

@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: false }), ConnectionsModule, DeliveryModule, ConfirmationsModule, TasksModule],
  controllers: [HealthController],
  providers: [ServerStateService, StatusService, WebSocketHealthIndicator, RedisHealthIndicator],
  exports: [ServerStateService, StatusService],
})
export class HealthModule {}
