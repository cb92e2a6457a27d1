import { Module } from '@nestjs/common';
import { ConnectionService } from '../connections/connection.service.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { StateBackend } from '../engine/state-backend.js';
import { HistoryModule } from '../history/history.module.js';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ConnectionsController } from './connections.controller.js';
import { DeliveryService } from './delivery.service.js';

@Module({
  imports: [ConnectionsModule, HistoryModule, MetricsRegistryModule],
  controllers: [ConnectionsController],
  providers: [
    {
      provide: DeliveryService,
      inject: [StateBackend, ConnectionService, MetricsService],
      useFactory: (backend: StateBackend, connections: ConnectionService, metrics: MetricsService): DeliveryService => backend.delivery(connections, metrics),
    },
  ],
  exports: [DeliveryService, HistoryModule],
})
export class DeliveryModule {}
