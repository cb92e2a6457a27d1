import { Module } from '@nestjs/common';
import { AcksModule } from '../acks/acks.module.js';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { NotifyController } from './notify.controller.js';

@Module({
  imports: [AcksModule, ConfirmationsModule, DeliveryModule],
  controllers: [NotifyController],
})
export class NotifyModule {}
