import { Injectable } from '@nestjs/common';
import { ConfirmationService } from '../confirmations/confirmation.service.js';
import { ConnectionService } from '../connections/connection.service.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { RedisDeliveryService } from '../delivery/redis-delivery.service.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import { InstanceRegistry } from '../redis/instance-registry.service.js';
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
    private readonly delivery: DeliveryService,
    private readonly registry: InstanceRegistry,
    private readonly identity: InstanceIdentity,
  ) {}

  /** Cluster mode only: the deployment's figures (the other keys are this instance's). */
  async clusterStatus(): Promise<{ cluster: object } | undefined> {
    if (!this.delivery.isShared) return undefined;
    try {
      const [pending, instances] = await Promise.all([this.confirmations.pendingTotal(), this.registry.aliveCount()]);
      return {
        cluster: {
          instance_id: this.identity.id,
          instances_alive: instances,
          pending_confirmations: pending,
          frames_received: this.delivery instanceof RedisDeliveryService ? { ...this.delivery.received } : undefined,
        },
      };
    } catch {
      return { cluster: { instance_id: this.identity.id, redis: 'unavailable' } };
    }
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
