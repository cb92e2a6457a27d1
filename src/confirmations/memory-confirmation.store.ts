import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { compositeKey } from '../common/composite-key.js';
import { FifoQueue } from '../common/fifo-queue.js';
import { SetIndex } from '../common/set-index.js';
import { StringInterner } from '../common/string-interner.js';
import type { Confirmation } from './confirmation.js';
import {
  ConfirmationStore,
  CreateLimits,
  CreateOutcome,
  Settlement,
  SettleOutcome,
  TaskCancellation,
} from './confirmation.store.js';

export interface RetentionSettings {
  retentionMs: number;
  maxRetained: number;
}

/** Distinct user ids, task ids and step names shared by the records (see StringInterner). */
const INTERNED_STRINGS = 50_000;

function userTaskKey(userId: string, taskId: string): string {
  return compositeKey(userId, taskId);
}

/**
 * One instance's confirmations, in memory: the default. Settled records stay readable for
 * the retention time, and at most `maxRetained` of them, oldest dropped first.
 */
@Injectable()
export class MemoryConfirmationStore extends ConfirmationStore implements OnModuleInit, OnModuleDestroy {
  private readonly byId = new Map<string, Confirmation>();
  private readonly pendingByUser = new SetIndex<Confirmation>();
  private readonly pendingByTask = new SetIndex<Confirmation>();
  /** How many pending and retained confirmations each (user, task) has: "is this user in it". */
  private readonly involvement = new Map<string, number>();
  /** Settled confirmations in the order they settled, so expiry and the cap drop from the front. */
  private readonly settledInOrder = new FifoQueue<Confirmation>();
  /** Cancellations by (user, task), in the order they happened. */
  private readonly cancellations = new Map<string, TaskCancellation>();
  private readonly cancellationsByTask = new SetIndex<TaskCancellation>();
  private pending = 0;
  private sweepTimer?: NodeJS.Timeout;
  /** A retained decision keeps its user, task and step name: one copy each, not one per decision. */
  private readonly strings = new StringInterner(INTERNED_STRINGS);

  constructor(private readonly settings: RetentionSettings) {
    super();
  }

  onModuleInit(): void {
    const sweepMs = Math.min(Math.max(this.settings.retentionMs / 2, 1000), 60_000);
    this.sweepTimer = setInterval(() => this.dropExpiredRecords(Date.now()), sweepMs);
    this.sweepTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
  }

  async create(draft: Confirmation, limits: CreateLimits): Promise<CreateOutcome> {
    this.dropExpiredRecords(Date.now());
    const existing = this.byId.get(draft.callbackId);
    if (existing) {
      const same = existing.userId === draft.userId && existing.taskId === draft.taskId;
      return same ? { kind: 'existing', confirmation: { ...existing } } : { kind: 'conflict' };
    }
    const cancelled = this.cancellations.has(userTaskKey(draft.userId, draft.taskId));
    if (!cancelled) {
      if (this.pendingByUser.get(draft.userId).size >= limits.maxPendingPerUser) return { kind: 'user_cap' };
      if (this.pending >= limits.maxPendingTotal) return { kind: 'total_cap' };
    }
    // Kept as a value of its own: the caller's draft and what it hands out stay the caller's.
    let confirmation: Confirmation = {
      ...draft,
      userId: this.strings.intern(draft.userId),
      taskId: this.strings.intern(draft.taskId),
      stepName: this.strings.intern(draft.stepName),
    };
    const key = userTaskKey(confirmation.userId, confirmation.taskId);
    this.involvement.set(key, (this.involvement.get(key) ?? 0) + 1);
    if (cancelled) {
      confirmation = this.markSettled(confirmation, { state: 'cancelled', proceed: false, feedback: null, settledAt: confirmation.createdAt });
    } else {
      this.byId.set(confirmation.callbackId, confirmation);
      this.pendingByUser.add(confirmation.userId, confirmation);
      this.pendingByTask.add(confirmation.taskId, confirmation);
      this.pending++;
    }
    return { kind: 'created', confirmation: { ...confirmation } };
  }

  async get(callbackId: string): Promise<Confirmation | undefined> {
    this.dropExpiredRecords(Date.now());
    const confirmation = this.byId.get(callbackId);
    return confirmation && { ...confirmation };
  }

  async settle(userId: string, callbackId: string, settlement: Settlement): Promise<SettleOutcome> {
    this.dropExpiredRecords(Date.now());
    const confirmation = this.byId.get(callbackId);
    if (!confirmation || confirmation.userId !== userId) return { kind: 'not_found' };
    if (confirmation.state !== 'pending') return { kind: 'already', confirmation: { ...confirmation } };
    this.pendingByUser.delete(confirmation.userId, confirmation);
    this.pendingByTask.delete(confirmation.taskId, confirmation);
    this.pending--;
    const settled = this.markSettled(confirmation, settlement);
    return { kind: 'settled', confirmation: { ...settled }, waitingInstances: [] };
  }

  async watch(confirmation: Confirmation): Promise<Confirmation | undefined> {
    const current = this.byId.get(confirmation.callbackId);
    return current && { ...current };
  }

  /** Every pending confirmation here has this instance's timer: none is ever overdue. */
  async overdue(): Promise<Array<{ userId: string; callbackId: string }>> {
    return [];
  }

  async pendingForUser(userId: string): Promise<Confirmation[]> {
    return Array.from(this.pendingByUser.get(userId), (c) => ({ ...c }));
  }

  async pendingForTask(taskId: string): Promise<Confirmation[]> {
    return Array.from(this.pendingByTask.get(taskId), (c) => ({ ...c }));
  }

  async pendingTotal(): Promise<number> {
    return this.pending;
  }

  async involves(userId: string, taskId: string): Promise<boolean> {
    this.dropExpiredRecords(Date.now());
    return this.involvement.has(userTaskKey(userId, taskId));
  }

  async recordCancellation(cancellation: TaskCancellation): Promise<void> {
    const key = userTaskKey(cancellation.userId, cancellation.taskId);
    const previous = this.cancellations.get(key);
    if (previous) this.dropCancellation(key, previous);
    const kept = { ...cancellation };
    this.cancellations.set(key, kept);
    this.cancellationsByTask.add(kept.taskId, kept);
  }

  async cancellationOf(userId: string, taskId: string): Promise<TaskCancellation | undefined> {
    this.dropExpiredRecords(Date.now());
    const cancellation = this.cancellations.get(userTaskKey(userId, taskId));
    return cancellation && { ...cancellation };
  }

  async latestCancellationOf(taskId: string): Promise<TaskCancellation | undefined> {
    this.dropExpiredRecords(Date.now());
    let latest: TaskCancellation | undefined;
    // Insertion order is cancellation order: a repeated cancel is removed and added again.
    for (const cancellation of this.cancellationsByTask.get(taskId)) latest = cancellation;
    return latest && { ...latest };
  }

  /** The settled record replaces the pending one: records handed out before stay as they were. */
  private markSettled(confirmation: Confirmation, settlement: Settlement): Confirmation {
    // Retained decisions do not keep the step's result.
    const settled: Confirmation = { ...confirmation, ...settlement, frame: null };
    this.byId.set(settled.callbackId, settled);
    this.settledInOrder.push(settled);
    if (this.settledInOrder.size > this.settings.maxRetained) this.forgetOldestSettled();
    return settled;
  }

  /**
   * Called by every read as well as by the sweep: a record past its retention is gone when
   * it is asked for, as its key is in Redis; the sweep frees memory nobody asks about.
   */
  private dropExpiredRecords(now: number): void {
    for (let oldest = this.settledInOrder.peek(); oldest; oldest = this.settledInOrder.peek()) {
      if (now - (oldest.settledAt as number) < this.settings.retentionMs) break;
      this.forgetOldestSettled();
    }
    for (const [key, cancellation] of this.cancellations) {
      if (now - cancellation.cancelledAt < this.settings.retentionMs) break;
      this.dropCancellation(key, cancellation);
    }
  }

  private dropCancellation(key: string, cancellation: TaskCancellation): void {
    this.cancellations.delete(key);
    this.cancellationsByTask.delete(cancellation.taskId, cancellation);
  }

  private forgetOldestSettled(): void {
    const confirmation = this.settledInOrder.shift() as Confirmation;
    this.byId.delete(confirmation.callbackId);
    const key = userTaskKey(confirmation.userId, confirmation.taskId);
    const remaining = (this.involvement.get(key) ?? 1) - 1;
    if (remaining > 0) this.involvement.set(key, remaining);
    else this.involvement.delete(key);
  }
}
