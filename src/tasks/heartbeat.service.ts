import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import type { Environment } from '../config/environment.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type { HeartbeatFrame } from '../protocol/server-frames.js';
import { epochSeconds } from '../protocol/server-frames.js';

export interface HeartbeatRequest {
  userId: string;
  taskId: string;
  intervalSeconds: number;
  durationSeconds?: number;
  message?: string;
}

export interface Heartbeat {
  readonly id: string;
  readonly userId: string;
  readonly taskId: string;
  readonly intervalSeconds: number;
  readonly message: string;
  readonly startedAt: number;
  readonly endsAt: number;
  beats: number;
  timer: NodeJS.Timeout;
}

export const DEFAULT_HEARTBEAT_MESSAGE = 'task still running...';
/** Heartbeats running at once on one instance; each is a timer. */
export const MAX_HEARTBEATS = 10_000;

/**
 * The original's send_heartbeat, made stoppable: one heartbeat per task, sent to the
 * task's user and subscribers every interval until it is stopped, replaced, its task is
 * cancelled, or its duration runs out.
 */
@Injectable()
export class HeartbeatService implements OnModuleDestroy {
  private readonly byId = new Map<string, Heartbeat>();
  private readonly byTask = new Map<string, Heartbeat>();
  private readonly defaultDurationMs: number;

  constructor(
    config: ConfigService<Environment, true>,
    private readonly delivery: DeliveryService,
  ) {
    this.defaultDurationMs = config.get('HEARTBEAT_DEFAULT_DURATION_SECONDS', { infer: true }) * 1000;
  }

  onModuleDestroy(): void {
    for (const heartbeat of [...this.byId.values()]) this.stop(heartbeat.id);
  }

  /** Starts a heartbeat, replacing the task's current one. The first beat goes out at once. */
  start(request: HeartbeatRequest): Heartbeat {
    this.stopForTask(request.taskId);
    if (this.byId.size >= MAX_HEARTBEATS) {
      throw new GatewayError(ErrorCode.CapacityExceeded, `${MAX_HEARTBEATS} heartbeats are already running`, 5);
    }
    const now = Date.now();
    const durationMs = request.durationSeconds === undefined ? this.defaultDurationMs : request.durationSeconds * 1000;
    const heartbeat: Heartbeat = {
      id: randomUUID(),
      userId: request.userId,
      taskId: request.taskId,
      intervalSeconds: request.intervalSeconds,
      message: request.message ?? DEFAULT_HEARTBEAT_MESSAGE,
      startedAt: now,
      endsAt: now + durationMs,
      beats: 0,
      timer: setInterval(() => this.beat(heartbeat), request.intervalSeconds * 1000),
    };
    this.byId.set(heartbeat.id, heartbeat);
    this.byTask.set(heartbeat.taskId, heartbeat);
    this.beat(heartbeat);
    return heartbeat;
  }

  get(id: string): Heartbeat | undefined {
    return this.unlessEnded(this.byId.get(id));
  }

  forTask(taskId: string): Heartbeat | undefined {
    return this.unlessEnded(this.byTask.get(taskId));
  }

  get count(): number {
    return this.byId.size;
  }

  stop(id: string): boolean {
    const heartbeat = this.byId.get(id);
    if (!heartbeat) return false;
    clearInterval(heartbeat.timer);
    this.byId.delete(id);
    if (this.byTask.get(heartbeat.taskId) === heartbeat) this.byTask.delete(heartbeat.taskId);
    return true;
  }

  stopForTask(taskId: string): boolean {
    const heartbeat = this.byTask.get(taskId);
    return heartbeat ? this.stop(heartbeat.id) : false;
  }

  /** A heartbeat past its end is over even before its next beat would notice. */
  private unlessEnded(heartbeat: Heartbeat | undefined): Heartbeat | undefined {
    if (heartbeat && Date.now() >= heartbeat.endsAt) {
      this.stop(heartbeat.id);
      return undefined;
    }
    return heartbeat;
  }

  private beat(heartbeat: Heartbeat): void {
    if (Date.now() >= heartbeat.endsAt) {
      this.stop(heartbeat.id);
      return;
    }
    heartbeat.beats++;
    const frame: HeartbeatFrame = {
      type: 'heartbeat',
      status: 'heartbeat',
      message: heartbeat.message,
      heartbeat_id: heartbeat.id,
      user_id: heartbeat.userId,
      task_id: heartbeat.taskId,
      timestamp: epochSeconds(),
    };
    void this.delivery.deliver({ userIds: [heartbeat.userId], taskIds: [heartbeat.taskId] }, frame);
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
