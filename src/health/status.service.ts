import { Injectable } from '@nestjs/common';
import { ConfirmationService } from '../confirmations/confirmation.service.js';
import { ConnectionService } from '../connections/connection.service.js';
import { StateBackend } from '../engine/state-backend.js';
import { HeartbeatService } from '../tasks/heartbeat.service.js';
import { ServerStateService } from './server-state.service.js';

/** The original's get_status() keys plus the design document's monitor figures. */
@Injectable()
export class StatusService {
  constructor(
    private readonly state: ServerStateService,
    private readonly connections: ConnectionService,
    private readonly confirmations: ConfirmationService,
    private readonly heartbeats: HeartbeatService,
    private readonly backend: StateBackend,
  ) {}

  /** With peers only: the deployment's figures (the other keys are this instance's). */
  async clusterStatus(): Promise<{ cluster: object } | undefined> {
    const cluster = await this.backend.deploymentStatus(() => this.confirmations.pendingTotal());
    return cluster && { cluster };
  }

  status() {
    const c = this.connections.stats();
    const k = this.confirmations.stats();
    return {
      running: this.state.isRunning,
      host: this.state.address?.host ?? null,
      port: this.state.address?.port ?? null,
      active_connections: c.active,
      pending_callbacks: k.pending,
      total_connections: c.total,
      failed_connections: c.failed,
      refused_connections: c.refused,
      reaped_connections: c.reaped,
      messages_sent: c.messagesSent,
      messages_failed: c.messagesFailed,
      slow_consumers_closed: c.slowConsumers,
      rate_limited_frames: c.rateLimitedFrames,
      flood_closed: c.floodClosed,
      forbidden_frames: c.errorFrames['forbidden'] ?? 0,
      error_frames: c.errorFrames,
      confirmations: {
        created: k.created,
        confirmed: k.confirmed,
        rejected: k.rejected,
        timed_out: k.timedOut,
        cancelled: k.cancelled,
      },
      active_heartbeats: this.heartbeats.count,
      uptime_seconds: this.state.uptimeSeconds,
      timestamp: Date.now() / 1000,
    };
  }
}
