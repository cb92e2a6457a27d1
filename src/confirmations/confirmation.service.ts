import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { FifoQueue } from '../common/fifo-queue.js';
import { SetIndex } from '../common/set-index.js';
import { MAX_TIMER_MS } from '../common/timers.js';
import type { Environment, TimeoutDecision } from '../config/environment.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type { ConfirmationResolvedFrame, ConfirmationState } from '../protocol/server-frames.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { buildStepResultFrame, Confirmation, NewConfirmation } from './confirmation.js';

export interface TaskCancellation {
  taskId: string;
  userId: string;
  cancelledAt: number;
}

export interface ConfirmationStats {
  pending: number;
  created: number;
  confirmed: number;
  rejected: number;
  timedOut: number;
  cancelled: number;
}

const RETRY_AFTER_SECONDS = 5;

function userTaskKey(userId: string, taskId: string): string {
  return `${userId}\n${taskId}`;
}

type SettledState = Exclude<ConfirmationState, 'pending'>;

/** The record plus what only a pending confirmation needs: its expiry and who waits for it. */
interface TrackedConfirmation extends Confirmation {
  expiryTimer: NodeJS.Timeout | null;
  waiters: Array<() => void> | null;
}

/**
 * Owns every confirmation from the moment a task service asks until its retention ends:
 * delivery to the user's sockets, the first answer, expiry, task cancellation, and the
 * callers waiting for the decision.
 */
@Injectable()
export class ConfirmationService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ConfirmationService.name);
  private readonly byId = new Map<string, TrackedConfirmation>();
  private readonly pendingByUser = new SetIndex<TrackedConfirmation>();
  private readonly pendingByTask = new SetIndex<TrackedConfirmation>();
  /** How many pending and retained confirmations each (user, task) has: "is this user in it". */
  private readonly involvement = new Map<string, number>();
  /** Settled confirmations in the order they settled, so expiry and the cap drop from the front. */
  private readonly settledInOrder = new FifoQueue<TrackedConfirmation>();
  /** Cancellations by (user, task), in the order they happened. */
  private readonly cancellations = new Map<string, TaskCancellation>();
  private readonly cancellationsByTask = new SetIndex<TaskCancellation>();
  private readonly counters = { created: 0, confirmed: 0, rejected: 0, timedOut: 0, cancelled: 0 };
  /** Confirmations delivered and not yet settled: those with an expiry timer. */
  private pending = 0;
  private readonly defaultTimeoutMs: number;
  private readonly maxTimeoutMs: number;
  private readonly retentionMs: number;
  private readonly timeoutDecision: TimeoutDecision;
  private readonly maxPendingPerUser: number;
  private readonly maxPendingTotal: number;
  private readonly maxRetained: number;
  private retentionTimer?: NodeJS.Timeout;
  /** Set when the app shuts down: nothing new is accepted and nobody waits any more. */
  private closing = false;

  constructor(
    config: ConfigService<Environment, true>,
    private readonly delivery: DeliveryService,
  ) {
    this.defaultTimeoutMs = config.get('WEBSOCKET_CALLBACK_TIMEOUT', { infer: true }) * 1000;
    this.maxTimeoutMs = config.get('WEBSOCKET_MAX_CALLBACK_TIMEOUT', { infer: true }) * 1000;
    this.retentionMs = config.get('CONFIRMATION_RETENTION_SECONDS', { infer: true }) * 1000;
    this.timeoutDecision = config.get('WEBSOCKET_TIMEOUT_DECISION', { infer: true });
    this.maxPendingPerUser = config.get('CONFIRMATION_MAX_PENDING_PER_USER', { infer: true });
    this.maxPendingTotal = config.get('CONFIRMATION_MAX_PENDING_TOTAL', { infer: true });
    this.maxRetained = config.get('CONFIRMATION_MAX_RETAINED', { infer: true });
    this.delivery.onResolution(({ callbackId }) => this.wakeWaiters(callbackId));
  }

  onModuleInit(): void {
    const sweepMs = Math.min(Math.max(this.retentionMs / 2, 1000), 60_000);
    this.retentionTimer = setInterval(() => this.dropExpiredRecords(Date.now()), sweepMs);
    this.retentionTimer.unref();
  }

  onModuleDestroy(): void {
    this.closing = true;
    clearInterval(this.retentionTimer);
    for (const confirmation of this.byId.values()) {
      if (confirmation.expiryTimer) clearTimeout(confirmation.expiryTimer);
      confirmation.expiryTimer = null;
      this.wakeWaitersOf(confirmation);
    }
  }

  /**
   * Registers a confirmation and pushes it to the user's open connections. With a
   * caller-given id that already exists, returns the existing one instead.
   */
  create(input: NewConfirmation): { confirmation: Confirmation; created: boolean } {
    if (this.closing) {
      throw new GatewayError(ErrorCode.Unavailable, 'Shutting down; retry with the same callback_id', 1);
    }
    const existing = input.callbackId === undefined ? undefined : this.byId.get(input.callbackId);
    if (existing) {
      if (existing.userId !== input.userId || existing.taskId !== input.taskId) {
        throw new GatewayError(
          ErrorCode.CallbackConflict,
          `callback_id ${existing.callbackId} already belongs to another user or task`,
        );
      }
      return { confirmation: existing, created: false };
    }
    const cancelled = this.cancellationOf(input.userId, input.taskId) !== undefined;
    if (!cancelled) this.checkCapacity(input.userId);

    const now = Date.now();
    const timeoutMs = Math.min(input.timeoutSeconds === undefined ? this.defaultTimeoutMs : input.timeoutSeconds * 1000, this.maxTimeoutMs);
    const callbackId = input.callbackId ?? randomUUID();
    const expiresAt = now + timeoutMs;
    const confirmation: TrackedConfirmation = {
      callbackId,
      userId: input.userId,
      taskId: input.taskId,
      step: input.step,
      createdAt: now,
      expiresAt,
      stepName: input.stepResult.step,
      message: input.stepResult.message,
      frame: buildStepResultFrame(callbackId, input, now, expiresAt),
      state: 'pending',
      proceed: null,
      feedback: null,
      settledAt: null,
      expiryTimer: null,
      waiters: null,
    };
    this.byId.set(callbackId, confirmation);
    const involvementKey = userTaskKey(confirmation.userId, confirmation.taskId);
    this.involvement.set(involvementKey, (this.involvement.get(involvementKey) ?? 0) + 1);
    this.counters.created++;

    if (cancelled) {
      this.settle(confirmation, 'cancelled', false, null);
      return { confirmation, created: true };
    }
    this.pendingByUser.add(confirmation.userId, confirmation);
    this.pendingByTask.add(confirmation.taskId, confirmation);
    confirmation.expiryTimer = setTimeout(() => this.expire(confirmation), timeoutMs);
    this.pending++;
    void this.delivery.deliver({ userIds: [confirmation.userId] }, confirmation.frame as object);
    return { confirmation, created: true };
  }

  get(callbackId: string): Confirmation | undefined {
    return this.byId.get(callbackId);
  }

  pendingForUser(userId: string): Confirmation[] {
    return [...this.pendingByUser.get(userId)];
  }

  pendingForTask(taskId: string): Confirmation[] {
    return [...this.pendingByTask.get(taskId)];
  }

  /** True when the user was asked anything about the task (pending or within retention). */
  involves(userId: string, taskId: string): boolean {
    return this.involvement.has(userTaskKey(userId, taskId));
  }

  /** The user's cancellation of the task, while retained. */
  cancellationOf(userId: string, taskId: string): TaskCancellation | undefined {
    return this.cancellations.get(userTaskKey(userId, taskId));
  }

  /** The task's most recent retained cancellation, by whichever user. */
  latestCancellationOf(taskId: string): TaskCancellation | undefined {
    let latest: TaskCancellation | undefined;
    // Insertion order is cancellation order: a repeated cancel is removed and added again.
    for (const cancellation of this.cancellationsByTask.get(taskId)) latest = cancellation;
    return latest;
  }

  /** The user's answer. First answer wins; only the confirmation's own user may give it. */
  answer(
    callbackId: string,
    userId: string | null,
    proceed: boolean,
    feedback: string | null,
    answeredOnConnectionId?: string,
  ): Confirmation {
    const confirmation = this.byId.get(callbackId);
    if (!confirmation) {
      throw new GatewayError(ErrorCode.CallbackNotFound, `No confirmation with callback_id ${callbackId}`);
    }
    if (confirmation.userId !== userId) {
      throw new GatewayError(ErrorCode.Forbidden, `Confirmation ${callbackId} belongs to another user`);
    }
    if (confirmation.state !== 'pending') {
      throw new GatewayError(ErrorCode.AlreadyResolved, `Confirmation ${callbackId} is already ${confirmation.state}`);
    }
    this.settle(confirmation, proceed ? 'confirmed' : 'rejected', proceed, feedback, answeredOnConnectionId);
    return confirmation;
  }

  /** Answers every pending confirmation of the user's task with "do not proceed". */
  cancelTask(userId: string, taskId: string): Confirmation[] {
    const key = userTaskKey(userId, taskId);
    const previous = this.cancellations.get(key);
    if (previous) this.dropCancellation(key, previous);
    const cancellation: TaskCancellation = { taskId, userId, cancelledAt: Date.now() };
    this.cancellations.set(key, cancellation);
    this.cancellationsByTask.add(taskId, cancellation);
    const affected = [...this.pendingByTask.get(taskId)].filter((c) => c.userId === userId);
    for (const confirmation of affected) this.settle(confirmation, 'cancelled', false, null);
    return affected;
  }

  /**
   * Resolves with the confirmation once it is settled, or as it stands when `maxWaitMs`
   * passes or the caller stops waiting (`onStop` is handed the function that ends the
   * wait, e.g. for when an HTTP caller goes away). Undefined for an unknown id.
   */
  waitForSettlement(
    callbackId: string,
    maxWaitMs = Infinity,
    onStop?: (stop: () => void) => void,
  ): Promise<Confirmation | undefined> {
    const confirmation = this.byId.get(callbackId);
    if (!confirmation || confirmation.state !== 'pending' || maxWaitMs <= 0 || this.closing) {
      return Promise.resolve(confirmation);
    }
    return new Promise((resolve) => {
      const finish = () => {
        if (timer) clearTimeout(timer);
        const index = confirmation.waiters?.indexOf(finish) ?? -1;
        if (index >= 0) confirmation.waiters?.splice(index, 1);
        resolve(confirmation);
      };
      // Without a limit no timer is needed: the expiry timer settles every confirmation.
      const timer = Number.isFinite(maxWaitMs) ? setTimeout(finish, Math.min(maxWaitMs, MAX_TIMER_MS)) : undefined;
      (confirmation.waiters ??= []).push(finish);
      onStop?.(finish);
    });
  }

  get pendingCount(): number {
    return this.pending;
  }

  stats(): ConfirmationStats {
    return { pending: this.pendingCount, ...this.counters };
  }

  /** One caller (or one user's flood of prompts) cannot exhaust memory. */
  private checkCapacity(userId: string): void {
    if (this.pendingByUser.get(userId).size >= this.maxPendingPerUser) {
      throw new GatewayError(
        ErrorCode.TooManyPending,
        `User ${userId} already has ${this.maxPendingPerUser} pending confirmations`,
        RETRY_AFTER_SECONDS,
      );
    }
    if (this.pendingCount >= this.maxPendingTotal) {
      throw new GatewayError(ErrorCode.TooManyPending, 'Too many pending confirmations on this instance', RETRY_AFTER_SECONDS);
    }
  }

  private expire(confirmation: TrackedConfirmation): void {
    if (confirmation.state !== 'pending') return;
    this.logger.log(`Confirmation ${confirmation.callbackId} timed out; decision: ${this.timeoutDecision}`);
    this.settle(confirmation, 'timed_out', this.timeoutDecision === 'proceed', null);
  }

  private settle(
    confirmation: TrackedConfirmation,
    state: SettledState,
    proceed: boolean,
    feedback: string | null,
    exceptConnectionId?: string,
  ): void {
    confirmation.state = state;
    confirmation.proceed = proceed;
    confirmation.feedback = feedback;
    confirmation.settledAt = Date.now();
    this.counters[COUNTER_OF[state]]++;
    // Only a confirmation that was pushed to the user has prompts to close.
    const wasDelivered = confirmation.expiryTimer !== null;
    if (wasDelivered) {
      clearTimeout(confirmation.expiryTimer as NodeJS.Timeout);
      confirmation.expiryTimer = null;
      this.pending--;
    }
    this.pendingByUser.delete(confirmation.userId, confirmation);
    this.pendingByTask.delete(confirmation.taskId, confirmation);
    confirmation.frame = null;
    this.retain(confirmation);

    if (wasDelivered) {
      const frame: ConfirmationResolvedFrame = {
        type: 'confirmation_resolved',
        callback_id: confirmation.callbackId,
        task_id: confirmation.taskId,
        state,
        proceed,
        timestamp: epochSeconds(confirmation.settledAt),
      };
      void this.delivery.deliver({ userIds: [confirmation.userId], exceptConnectionId }, frame);
    }
    this.delivery.announceResolution({ callbackId: confirmation.callbackId, state });
  }

  private wakeWaiters(callbackId: string): void {
    const confirmation = this.byId.get(callbackId);
    if (confirmation) this.wakeWaitersOf(confirmation);
  }

  private wakeWaitersOf(confirmation: TrackedConfirmation): void {
    const waiters = confirmation.waiters;
    confirmation.waiters = null;
    for (const wake of waiters ?? []) wake();
  }

  private dropExpiredRecords(now: number): void {
    for (let oldest = this.settledInOrder.peek(); oldest; oldest = this.settledInOrder.peek()) {
      if (now - (oldest.settledAt as number) < this.retentionMs) break;
      this.forgetOldestSettled();
    }
    for (const [key, cancellation] of this.cancellations) {
      if (now - cancellation.cancelledAt < this.retentionMs) break;
      this.dropCancellation(key, cancellation);
    }
  }

  /** Keeps memory bounded under heavy churn: past the cap the oldest decisions go early. */
  private retain(confirmation: TrackedConfirmation): void {
    this.settledInOrder.push(confirmation);
    if (this.settledInOrder.size > this.maxRetained) this.forgetOldestSettled();
  }

  private dropCancellation(key: string, cancellation: TaskCancellation): void {
    this.cancellations.delete(key);
    this.cancellationsByTask.delete(cancellation.taskId, cancellation);
  }

  private forgetOldestSettled(): void {
    const confirmation = this.settledInOrder.shift() as TrackedConfirmation;
    this.byId.delete(confirmation.callbackId);
    const key = userTaskKey(confirmation.userId, confirmation.taskId);
    const remaining = (this.involvement.get(key) ?? 1) - 1;
    if (remaining > 0) this.involvement.set(key, remaining);
    else this.involvement.delete(key);
  }

}

const COUNTER_OF: Record<SettledState, 'confirmed' | 'rejected' | 'timedOut' | 'cancelled'> = {
  confirmed: 'confirmed',
  rejected: 'rejected',
  timed_out: 'timedOut',
  cancelled: 'cancelled',
};
