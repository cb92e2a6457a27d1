import { Injectable } from '@nestjs/common';
import { ConfirmationService } from '../confirmations/confirmation.service.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { GrantStore } from './grant.store.js';
import { HeartbeatService } from './heartbeat.service.js';

export const DEFAULT_GRANT_SECONDS = 86400;

/**
 * Who a task belongs to. A user owns a task when they have (or recently had) a
 * confirmation for it, its heartbeat is theirs, or they cancelled it; owners may cancel
 * and follow it. The task service may also grant others the right to follow it.
 */
@Injectable()
export class TaskAccessService {
  constructor(
    private readonly confirmations: ConfirmationService,
    private readonly heartbeats: HeartbeatService,
    private readonly grants: GrantStore,
    private readonly delivery: DeliveryService,
  ) {}

  /** The task is the user's: they were asked about it, its heartbeat is theirs, or they cancelled it. */
  async owns(userId: string, taskId: string): Promise<boolean> {
    const [involved, heartbeat, cancellation] = await Promise.all([
      this.confirmations.involves(userId, taskId),
      this.heartbeats.forTask(taskId),
      this.confirmations.cancellationOf(userId, taskId),
    ]);
    return involved || heartbeat?.userId === userId || cancellation !== undefined;
  }

  /** Owners may follow a task, and so may users the task service granted it to. */
  async mayFollow(userId: string, taskId: string): Promise<boolean> {
    if ((await this.grants.expiryOf(taskId, userId) ?? 0) > Date.now()) return true;
    return this.owns(userId, taskId);
  }

  async grant(taskId: string, userId: string, seconds = DEFAULT_GRANT_SECONDS): Promise<number> {
    const expiresAt = Date.now() + seconds * 1000;
    await this.grants.grant(taskId, userId, expiresAt);
    return expiresAt;
  }

  /** Withdraws a grant and ends the user's current subscriptions to the task, on every instance. */
  async revoke(taskId: string, userId: string): Promise<boolean> {
    if (!(await this.grants.revoke(taskId, userId))) return false;
    if (await this.owns(userId, taskId)) return true; // still theirs: their subscriptions stay
    await this.delivery.endTaskSubscriptions(userId, taskId);
    return true;
  }
}
