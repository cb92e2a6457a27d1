import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How a confirmation left the pending state, as the decision histogram labels it. */
export const DECISION_OUTCOMES = ['confirmed', 'rejected', 'timed_out', 'cancelled'] as const;

/** How a webhook attempt ended (AttemptOutcome). */
export const WEBHOOK_OUTCOMES = ['delivered', 'retrying', 'gone', 'given_up', 'dropped'] as const;

/**
 * Seconds from a confirmation's creation to its decision. People answer in seconds to
 * minutes; the top buckets catch the ones left to time out (default 300 s).
 */
const DECISION_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * The Prometheus registry of this process, with Node's default metrics and the metrics
 * services record as things happen. It depends on nothing, so any module can import it
 * (MetricsRegistryModule); the figures read from the services' counters at scrape time
 * are registered by StatusMetricsService.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly beforeScrape: Array<() => void> = [];
  private readonly decisionSeconds = new Histogram({
    name: 'gateway_confirmation_decision_seconds',
    help: 'Seconds from a confirmation being created to its decision, by outcome',
    labelNames: ['outcome'],
    buckets: DECISION_BUCKETS,
    registers: [this.registry],
  });

  private readonly rttSeconds = new Histogram({
    name: 'gateway_connection_rtt_seconds',
    help: 'Round trips of the keepalive pings, per answered ping',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly deliverySeconds = new Histogram({
    name: 'gateway_delivery_latency_seconds',
    help: 'Seconds from the request that caused a frame being accepted to the frame written to its sockets, once per frame and instance',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly ackSeconds = new Histogram({
    name: 'gateway_ack_seconds',
    help: 'Seconds from a requires_ack message being sent to its acknowledgement',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [this.registry],
  });

  private readonly shedConnections = new Counter({
    name: 'gateway_http_connections_shed_total',
    help: 'HTTP connections closed because more than HTTP_MAX_PENDING_CONNECTIONS held no complete request (the oldest goes)',
    registers: [this.registry],
  });

  private readonly webhookAttempts = new Counter({
    name: 'gateway_webhook_attempts_total',
    help: 'Webhook attempts by outcome: delivered (2xx), retrying, gone (410: no more attempts), given_up (window over, or refused by the address rules), dropped (not queued: WEBHOOK_MAX_QUEUED)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly webhookSeconds = new Histogram({
    name: 'gateway_webhook_latency_seconds',
    help: 'Seconds one webhook attempt took, from resolving the host to the answer (or the failure)',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Every outcome is exported from the start, so dashboards and rate() see zeros, not gaps.
    for (const outcome of DECISION_OUTCOMES) this.decisionSeconds.zero({ outcome });
    for (const outcome of WEBHOOK_OUTCOMES) this.webhookAttempts.inc({ outcome }, 0);
  }

  observeWebhookAttempt(outcome: string, seconds: number): void {
    this.webhookAttempts.inc({ outcome });
    if (outcome !== 'dropped') this.webhookSeconds.observe(Math.max(0, seconds));
  }

  /** The webhook queue's depth, read when scraped (the whole deployment's, in cluster mode). */
  webhookQueueDepth(read: () => Promise<number>): void {
    new Gauge({
      name: 'gateway_webhook_queue_depth',
      help: 'Webhook deliveries waiting: due, scheduled for a retry, or being attempted',
      registers: [this.registry],
      async collect() {
        try {
          this.set(await read());
        } catch {
          // Redis away: the last figure stays.
        }
      },
    });
  }

  /** Records how long a confirmation took to reach its outcome (confirmed, rejected, timed_out, cancelled). */
  observeDecision(outcome: string, seconds: number): void {
    this.decisionSeconds.observe({ outcome }, Math.max(0, seconds));
  }

  observeRtt(seconds: number): void {
    this.rttSeconds.observe(Math.max(0, seconds));
  }

  observeDelivery(seconds: number): void {
    this.deliverySeconds.observe(Math.max(0, seconds));
  }

  observeAck(seconds: number): void {
    this.ackSeconds.observe(Math.max(0, seconds));
  }

  countShedConnection(): void {
    this.shedConnections.inc();
  }

  /** Runs `hook` before each scrape is collected (to take one snapshot for many metrics). */
  onScrape(hook: () => void): void {
    this.beforeScrape.push(hook);
  }

  /** The Prometheus text exposition of every registered metric. */
  metrics(): Promise<string> {
    for (const hook of this.beforeScrape) hook();
    return this.registry.metrics();
  }
}
