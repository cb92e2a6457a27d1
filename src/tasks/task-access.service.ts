import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConfirmationService } from '../confirmations/confirmation.service.js';
import { ConnectionService } from '../connections/connection.service.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { HeartbeatService } from './heartbeat.service.js';

export const DEFAULT_GRANT_SECONDS = 86400;
/** Grants kept at once on one instance. */
export const MAX_GRANTS = 100_000;
const GRANT_SWEEP_MS = 60_000;

/**
 * Who a task belongs to. A user owns a task when they have (or recently had) a
 * confirmation for it, its heartbeat is theirs, or they cancelled it; owners may cancel
 * and follow it. The task service may also grant others the right to follow it.
 */
@Injectable()
export class TaskAccessService implements OnModuleInit, OnModuleDestroy {
  /** taskId -> userId -> grant expiry (epoch ms) */
  private readonly grants = new Map<string, Map<string, number>>();
  private grantCount = 0;
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly confirmations: ConfirmationService,
    private readonly heartbeats: HeartbeatService,
    private readonly connections: ConnectionService,
  ) {}

  onModuleInit(): void {
    this.sweepTimer = setInterval(() => this.dropExpiredGrants(Date.now()), GRANT_SWEEP_MS);
    this.sweepTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
  }

  /** The task is the user's: they were asked about it or its heartbeat is theirs. */
  owns(userId: string, taskId: string): boolean {
    return (
      this.confirmations.involves(userId, taskId) ||
      this.heartbeats.forTask(taskId)?.userId === userId ||
      this.confirmations.cancellationOf(userId, taskId) !== undefined
    );
  }

  /** Owners may follow a task, and so may users the task service granted it to. */
  mayFollow(userId: string, taskId: string): boolean {
    return this.owns(userId, taskId) || (this.grants.get(taskId)?.get(userId) ?? 0) > Date.now();
  }

  grant(taskId: string, userId: string, seconds = DEFAULT_GRANT_SECONDS): number {
    let users = this.grants.get(taskId);
    const isNew = !users?.has(userId);
    if (isNew && this.grantCount >= MAX_GRANTS) {
      throw new GatewayError(ErrorCode.CapacityExceeded, `${MAX_GRANTS} grants are already held`, 5);
    }
    if (!users) this.grants.set(taskId, (users = new Map()));
    const expiresAt = Date.now() + seconds * 1000;
    users.set(userId, expiresAt);
    if (isNew) this.grantCount++;
    return expiresAt;
  }

  /** Withdraws a grant and ends the user's current subscriptions to the task. */
  revoke(taskId: string, userId: string): boolean {
    const users = this.grants.get(taskId);
    if (!users?.delete(userId)) return false;
    this.grantCount--;
    if (users.size === 0) this.grants.delete(taskId);
    if (this.owns(userId, taskId)) return true; // still theirs: their subscriptions stay
    for (const connection of this.connections.connectionsOfUser(userId)) this.connections.unsubscribeTask(connection, taskId);
    return true;
  }

  private dropExpiredGrants(now: number): void {
    for (const [taskId, users] of this.grants) {
      for (const [userId, expiresAt] of users) {
        if (expiresAt <= now && users.delete(userId)) this.grantCount--;
      }
      if (users.size === 0) this.grants.delete(taskId);
    }
  }
}
