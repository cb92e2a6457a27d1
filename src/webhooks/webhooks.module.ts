import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { AuditTrail } from '../audit/audit-trail.service.js';
import { Settings } from '../config/settings.js';
import { ConfirmationEvents } from '../confirmations/confirmation-events.js';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { StateBackend } from '../engine/state-backend.js';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CallbackRequestRules } from './callback-request.service.js';
import { WebhookDispatcher } from './webhook-dispatcher.service.js';
import { WebhookStore } from './webhook.store.js';
import { WebhooksController } from './webhooks.controller.js';

/** Decision webhooks: the schedule (from the StateBackend), the dispatcher, the attempts' route. Each attempt goes to the audit trail too (webhooks depend on audit, never the reverse). */
@Module({
  imports: [ConfirmationsModule, MetricsRegistryModule, AuditModule],
  controllers: [WebhooksController],
  providers: [
    CallbackRequestRules,
    {
      provide: WebhookStore,
      inject: [StateBackend, Settings],
      useFactory: (backend: StateBackend, settings: Settings): WebhookStore => {
        const { logRetentionMs } = settings.webhooks;
        return backend.webhookStore({ logRetentionMs, maxLoggedAttempts: MAX_LOGGED_ATTEMPTS });
      },
    },
    {
      provide: WebhookDispatcher,
      inject: [Settings, WebhookStore, ConfirmationEvents, MetricsService, AuditTrail],
      useFactory: (settings: Settings, store: WebhookStore, events: ConfirmationEvents, metrics: MetricsService, audit: AuditTrail) =>
        new WebhookDispatcher({ settings: settings.webhooks }, store, events, metrics, audit),
    },
  ],
  exports: [CallbackRequestRules],
})
export class WebhooksModule {}

/** Attempts listed per confirmation at most (the latest). */
const MAX_LOGGED_ATTEMPTS = 50;
