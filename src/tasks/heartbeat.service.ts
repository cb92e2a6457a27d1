import { StateBackend } from '../engine/state-backend.js';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUuid } from '../common/random-uuid.js';
import type { Environment } from '../config/environment.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type { HeartbeatFrame } from '../protocol/server-frames.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import { Heartbeat, HeartbeatStore } from './heartbeat.store.js';

export type { Heartbeat } from './heartbeat.store.js';

export interface HeartbeatRequest {
  userId: string;
  taskId: string;
  intervalSeconds: number;
  durationSeconds?: number;
  message?: string;
}

export const DEFAULT_HEARTBEAT_MESSAGE = 'task still running...';
/** Heartbeats one instance sends at once; each is a timer. */
export const MAX_HEARTBEATS = 10_000;
/** How often, in cluster mode, heartbeats of instances that died are looked for. */
const ORPHAN_SCAN_MS = 250;

/**
 * How long an owner's claim on a heartbeat lasts without a beat. Renewed by every beat;
 * with the orphan scan it bounds a takeover at two intervals (for intervals of 0.5 s and up).
 */
export function leaseMsOf(heartbeat: Pick<Heartbeat, 'intervalSeconds'>): number {
  const intervalMs = heartbeat.intervalSeconds * 1000;
  return Math.max(intervalMs * 1.5, intervalMs + 250);
}

/**
 * The original's send_heartbeat, made stoppable: one heartbeat per task, sent to the
 * task's user and subscribers every interval until it is stopped, replaced, its task is
 * cancelled, or its duration runs out. The stored heartbeat is the truth: before every
 * beat its owner checks it still exists and is still its own.
 */
@Injectable()
export class HeartbeatService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(HeartbeatService.name);
  /** The heartbeats this instance sends, by id. */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly defaultDurationMs: number;
  private orphanScan?: NodeJS.Timeout;

  constructor(
    config: ConfigService<Environment, true>,
    private readonly store: HeartbeatStore,
    private readonly delivery: DeliveryService,
    private readonly identity: InstanceIdentity,
    private readonly backend: StateBackend,
  ) {
    this.defaultDurationMs = config.get('HEARTBEAT_DEFAULT_DURATION_SECONDS', { infer: true }) * 1000;
  }

  onModuleInit(): void {
    // Heartbeats of a lost instance exist only where there are peers.
    if (!this.backend.hasPeers) return;
    this.orphanScan = setInterval(() => void this.adoptOrphans(), ORPHAN_SCAN_MS);
    this.orphanScan.unref();
  }

  /** Only this instance's timers stop: in cluster mode another instance takes the heartbeats over. */
  onModuleDestroy(): void {
    clearInterval(this.orphanScan);
    for (const timer of this.timers.values()) clearInterval(timer);
    this.timers.clear();
  }

  /** Starts a heartbeat, replacing the task's current one. The first beat goes out at once. */
  async start(request: HeartbeatRequest): Promise<Heartbeat> {
    if (this.timers.size >= MAX_HEARTBEATS) {
      throw new GatewayError(ErrorCode.CapacityExceeded, `${MAX_HEARTBEATS} heartbeats are already running here`, 5);
    }
    const now = Date.now();
    const durationMs = request.durationSeconds === undefined ? this.defaultDurationMs : request.durationSeconds * 1000;
    const heartbeat: Heartbeat = {
      id: randomUuid(),
      userId: request.userId,
      taskId: request.taskId,
      intervalSeconds: request.intervalSeconds,
      message: request.message ?? DEFAULT_HEARTBEAT_MESSAGE,
      startedAt: now,
      endsAt: now + durationMs,
      beats: 0,
      owner: this.identity.id,
    };
    const replaced = await this.store.start(heartbeat, leaseMsOf(heartbeat));
    if (replaced) this.stopTimer(replaced.id);
    this.run(heartbeat);
    await this.beat(heartbeat);
    return heartbeat;
  }

  async get(id: string): Promise<Heartbeat | undefined> {
    return this.unlessEnded(await this.store.get(id));
  }

  async forTask(taskId: string): Promise<Heartbeat | undefined> {
    return this.unlessEnded(await this.store.forTask(taskId));
  }

  /** Heartbeats this instance sends. */
  get count(): number {
    return this.timers.size;
  }

  /** Stops it wherever it runs: its owner finds it gone before its next beat. */
  async stop(id: string): Promise<boolean> {
    this.stopTimer(id);
    return (await this.store.stop(id)) !== undefined;
  }

  /** A heartbeat past its end is over even before its next beat would notice. */
  private async unlessEnded(heartbeat: Heartbeat | undefined): Promise<Heartbeat | undefined> {
    if (heartbeat && Date.now() >= heartbeat.endsAt) {
      await this.stop(heartbeat.id);
      return undefined;
    }
    return heartbeat;
  }

  private run(heartbeat: Heartbeat): void {
    this.stopTimer(heartbeat.id);
    this.timers.set(heartbeat.id, setInterval(() => void this.beat(heartbeat), heartbeat.intervalSeconds * 1000));
  }

  private stopTimer(id: string): void {
    const timer = this.timers.get(id);
    if (timer) clearInterval(timer);
    this.timers.delete(id);
  }

  private async beat(local: Heartbeat): Promise<void> {
    try {
      if (Date.now() >= local.endsAt) {
        await this.stop(local.id);
        return;
      }
      const current = await this.store.beat(local, leaseMsOf(local));
      if (!current) {
        this.stopTimer(local.id); // stopped, replaced or taken over elsewhere
        return;
      }
      local.beats = current.beats;
      const frame: HeartbeatFrame = {
        type: 'heartbeat',
        status: 'heartbeat',
        message: current.message,
        heartbeat_id: current.id,
        user_id: current.userId,
        task_id: current.taskId,
        timestamp: epochSeconds(),
      };
      await this.delivery.deliver({ userIds: [current.userId], taskIds: [current.taskId] }, frame);
    } catch (err) {
      // Redis away: this beat is skipped; the timer tries again (or the lease passes on).
      this.logger.debug(`Heartbeat ${local.id} skipped a beat: ${(err as Error).message}`);
    }
  }

  private async adoptOrphans(): Promise<void> {
    try {
      for (const heartbeat of await this.store.claimOrphans(this.identity.id, leaseMsOf)) {
        this.logger.log(`Took over heartbeat ${heartbeat.id} of task ${heartbeat.taskId}`);
        this.run(heartbeat);
        void this.beat(heartbeat);
      }
    } catch {
      // Redis away: the next scan tries again.
    }
  }
}

export function toHeartbeatView(h: Heartbeat) {
  return {
    heartbeat_id: h.id,
    user_id: h.userId,
    task_id: h.taskId,
    interval_seconds: h.intervalSeconds,
    message: h.message,
    beats: h.beats,
    started_at: epochSeconds(h.startedAt),
    ends_at: epochSeconds(h.endsAt),
  };
}
