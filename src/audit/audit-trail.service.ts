import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { randomUuid } from '../common/random-uuid.js';
import { Counter } from 'prom-client';
import type { Confirmation } from '../confirmations/confirmation.js';
import { ConfirmationEvent, ConfirmationEvents } from '../confirmations/confirmation-events.js';
import { infoLogged } from '../logging/info-logged.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import type { AuditEvent, AuditEventDetails, AuditEventKind } from './audit-event.js';
import { AuditStore } from './audit.store.js';

/** How long events wait in the queue, so one write carries all that came meanwhile. */
export const AUDIT_FLUSH_INTERVAL_MS = 5;
/** Events per write at most. */
export const AUDIT_BATCH_MAX = 500;
/** Events waiting at most; past it new ones are dropped and counted. */
export const AUDIT_QUEUE_MAX = 10_000;
/** After a failed write (Redis away) the queue waits this long before trying again. */
const RETRY_MS = 1000;
/** Longest the shutdown waits for the queue to be written. */
const SHUTDOWN_FLUSH_MS = 2000;
/** At most one "dropped" line per this many ms. */
const DROP_LOG_INTERVAL_MS = 10_000;

/** Free text a user wrote stays out of the log line (it is in the stored event). */
const UNLOGGED_DETAILS = new Set(['feedback', 'data']);

type ConfirmationRef = Pick<Confirmation, 'callbackId' | 'userId' | 'taskId'>;

/**
 * Records what happens to confirmations: listens on ConfirmationEvents, turns each event
 * into an AuditEvent, logs it as one line (context `Audit`) and appends it to the
 * AuditStore. Nothing on a request's path waits for it: events are queued and written in
 * batches every few milliseconds (on Redis one write per node), the queue bounded (drops
 * counted in `gateway_audit_events_dropped_total` and logged), and written out at shutdown.
 * Reads call `flush` first, so they see this instance's own events.
 */
@Injectable()
export class AuditTrail implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Audit');
  private readonly instanceId: string;
  private queue: AuditEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  /** Writes that failed so far; set while Redis is away. */
  private failures = 0;
  private outage = false;
  private droppedUnlogged = 0;
  private lastDropLog = 0;
  private readonly dropped: Counter;

  constructor(
    events: ConfirmationEvents,
    private readonly store: AuditStore,
    identity: InstanceIdentity,
    metrics: MetricsService,
  ) {
    this.instanceId = identity.id;
    this.dropped = new Counter({
      name: 'gateway_audit_events_dropped_total',
      help: 'Audit events dropped because the queue of events waiting to be written to Redis was full (Redis away or too slow)',
      registers: [metrics.registry],
    });
    events.on((event) => this.fromConfirmationEvent(event));
  }

  /** Records one event of a confirmation, now or at `at` (epoch ms). Other features' kinds come through here too. */
  record<K extends AuditEventKind>(kind: K, confirmation: ConfirmationRef, details: AuditEventDetails[K], at: number = Date.now()): void {
    const event: AuditEvent<K> = {
      event_id: randomUuid(),
      kind,
      callback_id: confirmation.callbackId,
      user_id: confirmation.userId,
      task_id: confirmation.taskId,
      at: epochSeconds(at),
      instance_id: this.instanceId,
      details,
    };
    this.log(event);
    this.enqueue(event);
  }

  /** Events waiting to be written. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Writes what this instance has queued, so a read here sees its own events; stops at a
   * failed write (the retry timer tries again later).
   */
  async flush(): Promise<void> {
    const failuresBefore = this.failures;
    for (let rounds = 0; rounds <= AUDIT_QUEUE_MAX / AUDIT_BATCH_MAX + 1; rounds++) {
      if (this.writing) await this.writing;
      if (this.queue.length === 0 || this.failures > failuresBefore) return;
      this.writeNext();
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.queue.length === 0 && !this.writing) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS)));
    await Promise.race([this.flush(), deadline]);
    clearTimeout(timer);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length > 0) {
      this.logger.warn({ dropped: this.queue.length }, `Shutting down with ${this.queue.length} audit events not written`);
      this.dropped.inc(this.queue.length);
      this.queue = [];
    }
  }

  private fromConfirmationEvent(event: ConfirmationEvent): void {
    const { confirmation } = event;
    switch (event.type) {
      case 'created':
        this.record(
          'created',
          confirmation,
          {
            api_key_id: event.apiKeyId ?? null,
            request_id: event.requestId ?? null,
            requested_by: event.requestedBy ?? null,
            step: confirmation.step,
            step_name: confirmation.stepName,
            state: confirmation.state,
            expires_at: epochSeconds(confirmation.expiresAt),
          },
          event.at,
        );
        return;
      case 'delivered':
        this.record('delivered', confirmation, { connections: event.connections }, event.at);
        return;
      case 'settled': {
        const at = confirmation.settledAt ?? event.at;
        const proceed = confirmation.proceed ?? false;
        if (event.userId !== undefined) {
          this.record(
            'answered',
            confirmation,
            {
              answered_by: event.userId,
              connection_id: event.connectionId ?? null,
              proceed,
              option: event.option ?? null,
              data: event.data ?? null,
              feedback: confirmation.feedback,
            },
            at,
          );
        }
        this.record('settled', confirmation, { state: confirmation.state, proceed }, at);
        return;
      }
      default:
        this.recordAsIs(event);
    }
  }

  /** An event type without a mapping above: its type is the kind, its other fields the details. */
  private recordAsIs(event: ConfirmationEvent): void {
    const { type, confirmation, at, ...fields } = event as { type: string; confirmation: Confirmation; at: number } & Record<string, unknown>;
    const details: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(fields)) if (value !== undefined) details[snakeCase(name)] = value;
    this.record(type as AuditEventKind, confirmation, details as never, at);
  }

  private log(event: AuditEvent): void {
    if (!infoLogged()) return;
    const details: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(event.details)) if (!UNLOGGED_DETAILS.has(name)) details[name] = value;
    this.logger.log(
      { audit: event.kind, eventId: event.event_id, callbackId: event.callback_id, userId: event.user_id, taskId: event.task_id, details },
      `Audit: ${event.kind} ${event.callback_id}`,
    );
  }

  private enqueue(event: AuditEvent): void {
    if (this.queue.length >= AUDIT_QUEUE_MAX) {
      this.drop(1);
      return;
    }
    this.queue.push(event);
    if (!this.timer && !this.writing) this.schedule(AUDIT_FLUSH_INTERVAL_MS);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.writeNext(), ms);
    this.timer.unref();
  }

  /** Writes the oldest batch; one write at a time, so this instance's events keep their order. */
  private writeNext(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.writing || this.queue.length === 0) return;
    const batch = this.queue.splice(0, AUDIT_BATCH_MAX);
    this.writing = this.store
      .append(batch)
      .then(
        () => {
          if (this.outage) this.logger.log('Audit events are written again');
          this.outage = false;
        },
        (err: Error) => {
          this.failures++;
          if (!this.outage) this.logger.warn(`Could not write ${batch.length} audit events (${err.message}); keeping them queued and retrying every ${RETRY_MS / 1000} s`);
          this.outage = true;
          // Back at the front, in order; what no longer fits (the oldest) is dropped.
          const room = AUDIT_QUEUE_MAX - this.queue.length;
          if (room < batch.length) this.drop(batch.length - Math.max(room, 0));
          this.queue = [...batch.slice(Math.max(0, batch.length - Math.max(room, 0))), ...this.queue];
        },
      )
      .finally(() => {
        this.writing = null;
        if (this.queue.length > 0 && !this.timer) this.schedule(this.outage ? RETRY_MS : AUDIT_FLUSH_INTERVAL_MS);
      });
  }

  private drop(count: number): void {
    this.dropped.inc(count);
    this.droppedUnlogged += count;
    const now = Date.now();
    if (now - this.lastDropLog < DROP_LOG_INTERVAL_MS) return;
    this.logger.warn({ dropped: this.droppedUnlogged }, `Audit queue full (${AUDIT_QUEUE_MAX} events waiting): dropped ${this.droppedUnlogged} events`);
    this.droppedUnlogged = 0;
    this.lastDropLog = now;
  }
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
