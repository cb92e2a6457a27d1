import { Module } from '@nestjs/common';
import { ConnectionsModule } from '../connections/connections.module.js';
import { DeliveryService } from './delivery.service.js';
import { LocalDeliveryService } from './local-delivery.service.js';

@Module({
  imports: [ConnectionsModule],
  providers: [{ provide: DeliveryService, useClass: LocalDeliveryService }],
  exports: [DeliveryService],
})
export class DeliveryModule {}
