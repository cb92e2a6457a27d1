import { Module } from '@nestjs/common';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { ConnectionService } from './connection.service.js';
import { ConnectionsController } from './connections.controller.js';

@Module({
  imports: [MetricsRegistryModule],
  controllers: [ConnectionsController],
  providers: [ConnectionService],
  exports: [ConnectionService],
})
export class ConnectionsModule {}
