import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import { StatusService } from '../health/status.service.js';
import { MetricsService } from './metrics.service.js';

type Status = ReturnType<StatusService['status']>;

/**
 * The metrics read from the services' own counters when scraped, so no metric work
 * happens per message. One status snapshot per scrape serves every metric.
 */
@Injectable()
export class StatusMetricsService {
  private snapshot: Status;

  constructor(statusService: StatusService, metrics: MetricsService) {
    this.snapshot = statusService.status();
    metrics.onScrape(() => (this.snapshot = statusService.status()));
    const status = () => this.snapshot;
    const registry = metrics.registry;
    gauge(registry, 'gateway_active_connections', 'Open WebSocket connections', () => status().active_connections);
    gauge(registry, 'gateway_pending_confirmations', 'Confirmations waiting for their user', () => status().pending_callbacks);
    gauge(registry, 'gateway_active_heartbeats', 'Running task heartbeats', () => status().active_heartbeats);
    counter(registry, 'gateway_connections_total', 'Connections accepted', () => status().total_connections);
    counter(registry, 'gateway_connections_reaped_total', 'Connections terminated for missing pings', () => status().reaped_connections);
    counter(registry, 'gateway_messages_sent_total', 'Frames pushed to sockets', () => status().messages_sent);
    counter(registry, 'gateway_messages_failed_total', 'Frames that could not be pushed', () => status().messages_failed);
    labelledCounter(registry, 'gateway_confirmations_total', 'Confirmations by outcome', 'outcome', () => status().confirmations);
    labelledCounter(
      registry,
      'gateway_connections_refused_total',
      'Connections refused, by reason (the error code of the refused upgrade, or capacity_exceeded)',
      'reason',
      () => status().refused_connections,
    );
    labelledCounter(registry, 'gateway_error_frames_total', 'Error frames sent to sockets, by code', 'code', () => status().error_frames);
  }
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
}

function counter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function labelledCounter(registry: Registry, name: string, help: string, label: string, read: () => Record<string, number>): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, count] of Object.entries(read())) this.inc({ [label]: value }, count);
    },
  });
}
