import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { StatusService } from '../health/status.service.js';

/**
 * Prometheus metrics. Values are read from the services' own counters when scraped,
 * so no metric work happens per message.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  /** Read once per scrape; every metric's collect() looks at this one snapshot. */
  private snapshot: ReturnType<StatusService['status']>;

  constructor(private readonly statusService: StatusService) {
    this.snapshot = statusService.status();
    collectDefaultMetrics({ register: this.registry });
    const status = () => this.snapshot;
    this.gauge('gateway_active_connections', 'Open WebSocket connections', () => status().active_connections);
    this.gauge('gateway_pending_confirmations', 'Confirmations waiting for their user', () => status().pending_callbacks);
    this.gauge('gateway_active_heartbeats', 'Running task heartbeats', () => status().active_heartbeats);
    this.counter('gateway_connections_total', 'Connections accepted', () => status().total_connections);
    this.counter('gateway_connections_refused_total', 'Connections refused', () => status().failed_connections);
    this.counter('gateway_connections_reaped_total', 'Connections terminated for missing pings', () => status().reaped_connections);
    this.counter('gateway_messages_sent_total', 'Frames pushed to sockets', () => status().messages_sent);
    this.counter('gateway_messages_failed_total', 'Frames that could not be pushed', () => status().messages_failed);
    new Counter({
      name: 'gateway_confirmations_total',
      help: 'Confirmations by outcome',
      labelNames: ['outcome'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [outcome, value] of Object.entries(status().confirmations)) this.inc({ outcome }, value);
      },
    });
  }

  metrics(): Promise<string> {
    this.snapshot = this.statusService.status();
    return this.registry.metrics();
  }

  private gauge(name: string, help: string, read: () => number): void {
    new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
  }

  private counter(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }
}
