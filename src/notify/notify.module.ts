import { Module } from '@nestjs/common';
import { AcksModule } from '../acks/acks.module.js';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { NotifyController } from './notify.controller.js';

@Module({
  imports: [AcksModule, ConfirmationsModule, DeliveryModule, WebhooksModule],
  controllers: [NotifyController],
})
export class NotifyModule {}
