import { Module } from '@nestjs/common';
import { Settings } from '../config/settings.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { StateBackend } from '../engine/state-backend.js';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { ScheduleModule } from '../schedule/schedule.module.js';
import { ConfirmationEvents } from './confirmation-events.js';
import { ConfirmationService } from './confirmation.service.js';
import { ConfirmationStore } from './confirmation.store.js';
import { ConfirmationsController } from './confirmations.controller.js';

@Module({
  imports: [DeliveryModule, MetricsRegistryModule, ScheduleModule],
  controllers: [ConfirmationsController],
  providers: [
    ConfirmationService,
    ConfirmationEvents,
    {
      provide: ConfirmationStore,
      inject: [StateBackend, Settings],
      useFactory: (backend: StateBackend, settings: Settings): ConfirmationStore => backend.confirmationStore(settings.confirmationRetention),
    },
  ],
  exports: [ConfirmationService, ConfirmationEvents],
})
export class ConfirmationsModule {}
