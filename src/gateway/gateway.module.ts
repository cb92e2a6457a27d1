import { Module } from '@nestjs/common';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { TasksModule } from '../tasks/tasks.module.js';
import { TaskGateway } from './task.gateway.js';
import { UpgradeAuthenticator } from './upgrade-authenticator.js';

@Module({
  imports: [ConnectionsModule, ConfirmationsModule, TasksModule],
  providers: [TaskGateway, UpgradeAuthenticator],
})
export class GatewayModule {}
