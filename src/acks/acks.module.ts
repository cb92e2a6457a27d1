import { Module } from '@nestjs/common';
import { ConnectionsModule } from '../connections/connections.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { StateBackend } from '../engine/state-backend.js';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { AckService } from './ack.service.js';
import { AckStore } from './ack.store.js';
import { MessagesController } from './messages.controller.js';

@Module({
  imports: [ConnectionsModule, DeliveryModule, MetricsRegistryModule],
  controllers: [MessagesController],
  providers: [AckService, { provide: AckStore, inject: [StateBackend], useFactory: (backend: StateBackend): AckStore => backend.ackStore() }],
  exports: [AckService],
})
export class AcksModule {}
