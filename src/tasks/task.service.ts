import { Injectable, Logger } from '@nestjs/common';
import type { Confirmation } from '../confirmations/confirmation.js';
import { ConfirmationService, TaskCancellation } from '../confirmations/confirmation.service.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type { TaskCancelledFrame } from '../protocol/server-frames.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { Heartbeat, HeartbeatRequest, HeartbeatService } from './heartbeat.service.js';
import { TaskAccessService } from './task-access.service.js';

export interface TaskSnapshot {
  cancellation: TaskCancellation | undefined;
  pending: Confirmation[];
  heartbeat: Heartbeat | undefined;
}

/** Task-level operations: cancellation, heartbeats, and what a task service can read back. */
@Injectable()
export class TaskService {
  private readonly logger = new Logger(TaskService.name);

  constructor(
    private readonly confirmations: ConfirmationService,
    private readonly heartbeats: HeartbeatService,
    private readonly delivery: DeliveryService,
    private readonly access: TaskAccessService,
  ) {}

  /**
   * The user cancels their task: its pending confirmations are answered "do not proceed",
   * its heartbeat stops, and the user's connections and the task's subscribers are told.
   */
  async cancel(userId: string, taskId: string, connectionId?: string): Promise<TaskCancelledFrame> {
    if (!(await this.access.owns(userId, taskId))) {
      throw new GatewayError(ErrorCode.Forbidden, `Task ${taskId} does not belong to this user`);
    }
    const cancelled = await this.confirmations.cancelTask(userId, taskId);
    const heartbeat = await this.heartbeats.forTask(taskId);
    if (heartbeat?.userId === userId) await this.heartbeats.stop(heartbeat.id);
    this.logger.log({ taskId, userId, connectionId, cancelledConfirmations: cancelled.length }, `Task ${taskId} cancelled by ${userId} (${cancelled.length} pending confirmations)`);
    const frame: TaskCancelledFrame = { type: 'task_cancelled', user_id: userId, task_id: taskId, timestamp: epochSeconds() };
    await this.delivery.deliver({ userIds: [userId], taskIds: [taskId] }, frame);
    return frame;
  }

  async startHeartbeat(request: HeartbeatRequest): Promise<Heartbeat> {
    if (await this.confirmations.cancellationOf(request.userId, request.taskId)) {
      throw new GatewayError(ErrorCode.TaskCancelled, `Task ${request.taskId} was cancelled`);
    }
    return this.heartbeats.start(request);
  }

  async stopHeartbeat(id: string): Promise<void> {
    if (!(await this.heartbeats.stop(id))) throw new GatewayError(ErrorCode.NotFound, `No heartbeat with id ${id}`);
  }

  /** What the gateway knows of a task; a task it never heard of is not found. */
  async describe(taskId: string): Promise<TaskSnapshot> {
    const [cancellation, pending, heartbeat] = await Promise.all([
      this.confirmations.latestCancellationOf(taskId),
      this.confirmations.pendingForTask(taskId),
      this.heartbeats.forTask(taskId),
    ]);
    if (!cancellation && pending.length === 0 && !heartbeat) {
      throw new GatewayError(ErrorCode.NotFound, `No task ${taskId} is known (no cancellation, confirmation or heartbeat)`);
    }
    return { cancellation, pending, heartbeat };
  }
}
