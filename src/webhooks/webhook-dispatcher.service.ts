import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { AuditTrail } from '../audit/audit-trail.service.js';
import type { WebhookSection } from '../config/settings.js';
import { ConfirmationEvent, ConfirmationEvents } from '../confirmations/confirmation-events.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { HostAllowList } from './address-rules.js';
import { subjectOf, WebhookMessage, webhookFor } from './webhook-payload.js';
import { SendResult, SendRules, sendWebhook } from './webhook-sender.js';
import { webhookHeaders } from './webhook-signature.js';
import { AttemptOutcome, ClaimedDelivery, WebhookAttempt, WebhookEvent, WebhookStore } from './webhook.store.js';

declare module '../audit/audit-event.js' {
  interface AuditEventDetails {
    /** One attempt to send a webhook, recorded by the instance that made it (as GET /confirmations/:id/deliveries lists it). */
    webhook_attempt: { webhook_id: string; event: WebhookEvent; attempt: number; status_code: number | null; error: string | null; latency_ms: number; outcome: AttemptOutcome };
  }
}

/** How often each instance looks for due deliveries (its own new ones are tried at once). */
const POLL_MS = 500;
/** Attempts in flight per instance at most. */
const MAX_IN_FLIGHT = 32;
/** Back-off: full jitter over min(cap, base * 2^(attempt - 1)). */
const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 3_600_000;
/** A claim outlives its attempt's timeout by this much before another instance takes it over. */
const LEASE_MARGIN_MS = 5000;

export interface DispatcherOptions {
  settings: WebhookSection;
  /** Tests use their own randomness for the jitter. */
  random?: () => number;
}

/**
 * Sends the webhooks of confirmation events: enqueues one delivery per event (to the
 * confirmation's callback_url, else WEBHOOK_DEFAULT_URL), then every instance claims
 * due deliveries from the WebhookStore, signs and sends them, and records each attempt:
 * (in the store and in the audit trail, `webhook_attempt`): 2xx ends a delivery, 410 stops it, anything else is retried with exponential back-off
 * and full jitter (at least the receiver's Retry-After) until WEBHOOK_RETRY_FOR_SECONDS.
 * At least once: a receiver de-duplicates by webhook-id.
 */
@Injectable()
export class WebhookDispatcher implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private readonly rules: SendRules;
  private readonly leaseMs: number;
  private timer?: NodeJS.Timeout;
  private polling = false;
  private pollAgain = false;
  private inFlight = 0;
  private closed = false;
  /** Set while the schedule cannot be read: one warning per outage, not one per poll. */
  private unreadable = false;
  private readonly random: () => number;

  constructor(
    private readonly options: DispatcherOptions,
    private readonly store: WebhookStore,
    private readonly events: ConfirmationEvents,
    private readonly metrics: MetricsService,
    private readonly audit: AuditTrail,
  ) {
    const { settings } = options;
    this.rules = { allowedHosts: new HostAllowList(settings.allowedHosts), allowPrivate: settings.allowPrivate, timeoutMs: settings.timeoutMs };
    this.leaseMs = settings.timeoutMs + LEASE_MARGIN_MS;
    this.random = options.random ?? Math.random;
  }

  onModuleInit(): void {
    const { settings } = this.options;
    if (!settings.enabled) return;
    if (settings.secrets.length === 0) this.logger.warn('WEBHOOK_SECRETS is not set: webhooks are sent unsigned (production refuses this)');
    this.events.on((event) => this.onEvent(event), ['settled', 'reminder', 'escalated']);
    this.metrics.webhookQueueDepth(() => this.store.queueDepth());
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  /** Synchronous when there is nothing to send: no promise for a confirmation without a webhook. */
  private onEvent(event: ConfirmationEvent): Promise<void> | undefined {
    const url = event.confirmation.callbackUrl ?? this.options.settings.defaultUrl;
    if (url === undefined) return undefined;
    const message = webhookFor(event);
    return message ? this.schedule(message, url, event.confirmation.callbackId) : undefined;
  }

  private async schedule(message: WebhookMessage, url: string, callbackId: string): Promise<void> {
    const now = Date.now();
    const { retryForMs, maxQueued } = this.options.settings;
    const outcome = await this.store.enqueue(
      { id: message.id, callbackId, event: message.event, url, body: message.body, createdAt: now, giveUpAt: now + retryForMs, attempts: 0 },
      now,
      maxQueued,
    );
    if (outcome === 'stored') void this.poll();
    if (outcome === 'full') {
      this.metrics.observeWebhookAttempt('dropped', 0);
      this.logger.warn(`Webhook ${message.id} (${message.event} of ${callbackId}) dropped: ${maxQueued} deliveries are waiting (WEBHOOK_MAX_QUEUED)`);
    }
  }

  /** Claims what is due, as many as there is room for, and attempts each. */
  private async poll(): Promise<void> {
    if (this.closed) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    try {
      do {
        this.pollAgain = false;
        const room = MAX_IN_FLIGHT - this.inFlight;
        if (room <= 0) break;
        const claimed = await this.store.claimDue(Date.now(), this.leaseMs, room);
        for (const delivery of claimed) void this.attempt(delivery);
        if (claimed.length === room) this.pollAgain = true;
        if (this.unreadable) this.logger.log('The webhook schedule is readable again');
        this.unreadable = false;
      } while (this.pollAgain && !this.closed);
    } catch (err) {
      if (!this.unreadable) this.logger.warn(`Could not read the webhook schedule (retrying every ${POLL_MS} ms): ${(err as Error).message}`);
      this.unreadable = true;
    } finally {
      this.polling = false;
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    this.inFlight++;
    try {
      const at = Date.now();
      const result =
        at >= delivery.giveUpAt
          ? { statusCode: null, error: 'retry window over before this attempt', latencyMs: 0, retryAfterMs: null, refused: true }
          : await sendWebhook(delivery.url, webhookHeaders(this.options.settings.secrets, delivery.id, Math.floor(at / 1000), delivery.body), delivery.body, this.rules);
      const { outcome, nextAttemptAt } = this.nextStep(delivery, result);
      const attempt: WebhookAttempt = {
        webhookId: delivery.id,
        event: delivery.event,
        attempt: delivery.attempts + 1,
        at,
        statusCode: result.statusCode,
        error: result.error,
        latencyMs: result.latencyMs,
        outcome,
        nextAttemptAt,
      };
      if (!(await this.store.finish(delivery, attempt))) return; // its lease ended: another instance holds it now
      this.metrics.observeWebhookAttempt(outcome, result.latencyMs / 1000);
      this.audit.record(
        'webhook_attempt',
        { callbackId: delivery.callbackId, ...subjectOf(delivery.body) },
        { webhook_id: delivery.id, event: delivery.event, attempt: attempt.attempt, status_code: result.statusCode, error: result.error, latency_ms: result.latencyMs, outcome },
        at,
      );
      if (outcome === 'given_up') this.logger.warn(`Webhook ${delivery.id} (${delivery.event} of ${delivery.callbackId}) given up: ${result.error ?? `status ${result.statusCode}`}`);
    } catch (err) {
      // Redis away: the claim's lease ends and whichever instance sees it due first tries again.
      this.logger.warn(`Webhook ${delivery.id} attempt not recorded: ${(err as Error).message}`);
    } finally {
      this.inFlight--;
    }
  }

  /** What follows an attempt: done, stopped, or the next attempt's time. */
  private nextStep(delivery: ClaimedDelivery, result: SendResult): { outcome: AttemptOutcome; nextAttemptAt: number | null } {
    const status = result.statusCode;
    if (status !== null && status >= 200 && status < 300) return { outcome: 'delivered', nextAttemptAt: null };
    if (status === 410) return { outcome: 'gone', nextAttemptAt: null };
    if (result.refused) return { outcome: 'given_up', nextAttemptAt: null };
    const next = Date.now() + retryDelayMs(delivery.attempts + 1, result.retryAfterMs, this.random);
    return next >= delivery.giveUpAt ? { outcome: 'given_up', nextAttemptAt: null } : { outcome: 'retrying', nextAttemptAt: next };
  }
}

/** Full jitter over an exponentially growing ceiling, never sooner than the receiver's Retry-After. */
export function retryDelayMs(failedAttempts: number, retryAfterMs: number | null, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(failedAttempts - 1, 30));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, retryAfterMs ?? 0);
}
