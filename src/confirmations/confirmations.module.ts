import { Module } from '@nestjs/common';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { ConfirmationService } from './confirmation.service.js';
import { ConfirmationsController } from './confirmations.controller.js';

@Module({
  imports: [DeliveryModule],
  controllers: [ConfirmationsController],
  providers: [ConfirmationService],
  exports: [ConfirmationService],
})
export class ConfirmationsModule {}
