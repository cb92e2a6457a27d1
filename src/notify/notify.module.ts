import { Module } from '@nestjs/common';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { NotifyController } from './notify.controller.js';

@Module({
  imports: [ConfirmationsModule, DeliveryModule],
  controllers: [NotifyController],
})
export class NotifyModule {}
