import { Module } from '@nestjs/common';
import { StateBackend } from '../engine/state-backend.js';
import { ScheduleStore } from './schedule.store.js';
import { SchedulerService } from './scheduler.service.js';

/** Timed work of confirmations (reminders, escalations), claimed once across instances. */
@Module({
  providers: [
    SchedulerService,
    { provide: ScheduleStore, inject: [StateBackend], useFactory: (backend: StateBackend): ScheduleStore => backend.scheduleStore() },
  ],
  exports: [SchedulerService],
})
export class ScheduleModule {}
