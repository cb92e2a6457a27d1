import { Module } from '@nestjs/common';
import { Settings } from '../config/settings.js';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { StateBackend } from '../engine/state-backend.js';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { AuditTrail } from './audit-trail.service.js';
import { AuditController } from './audit.controller.js';
import { AuditStore } from './audit.store.js';

/** Every confirmation's history, append-only (docs/AUDIT.md). */
@Module({
  imports: [ConfirmationsModule, MetricsRegistryModule],
  controllers: [AuditController],
  providers: [
    AuditTrail,
    { provide: AuditStore, inject: [StateBackend, Settings], useFactory: (backend: StateBackend, settings: Settings): AuditStore => backend.auditStore(settings.audit) },
  ],
  exports: [AuditTrail],
})
export class AuditModule {}
