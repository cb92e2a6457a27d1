import { Module } from '@nestjs/common';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { ConnectionService } from './connection.service.js';

@Module({
  imports: [MetricsRegistryModule],
  providers: [ConnectionService],
  exports: [ConnectionService],
})
export class ConnectionsModule {}
