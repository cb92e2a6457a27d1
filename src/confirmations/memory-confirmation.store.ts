import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { compositeKey } from '../common/composite-key.js';
import { FifoQueue } from '../common/fifo-queue.js';
import { SetIndex } from '../common/set-index.js';
import { StringInterner } from '../common/string-interner.js';
import { tally, voterProblem } from '../approvals/policy.js';
import type { Confirmation, Vote } from './confirmation.js';
import {
  AddApproversOutcome,
  Ballot,
  ConfirmationStore,
  CreateLimits,
  CreateOutcome,
  Settlement,
  SettleOutcome,
  TaskCancellation,
  Voter,
  VoteOutcome,
} from './confirmation.store.js';
import { MAX_APPROVERS_TOTAL, MAX_VOTES } from '../approvals/approval-limits.js';

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
  /** Pending confirmations with approvers, by approver user and by approver group (callback ids). */
  private readonly pendingByApprover = new SetIndex<string>();
  private readonly pendingByGroup = new SetIndex<string>();
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
      if (confirmation.approval?.approvers) this.indexApprovers(confirmation.callbackId, confirmation.approval.approvers.users, confirmation.approval.approvers.groups);
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
    if (confirmation.approval && (settlement.state === 'confirmed' || settlement.state === 'rejected')) return { kind: 'needs_vote', confirmation: { ...confirmation } };
    const decision = confirmation.approval ? { option: null, data: null, decidedBy: null } : undefined;
    return { kind: 'settled', confirmation: { ...this.leavePending(confirmation, { ...settlement, ...decision }) }, waitingInstances: [] };
  }

  async vote(callbackId: string, voter: Voter, ballot: Ballot, at: number): Promise<VoteOutcome> {
    this.dropExpiredRecords(Date.now());
    const confirmation = this.byId.get(callbackId);
    if (!confirmation) return { kind: 'not_found' };
    if (confirmation.state !== 'pending') return { kind: 'already', confirmation: { ...confirmation } };
    const problem = voterProblem(confirmation.approval, confirmation.userId, voter);
    if (problem === 'not_an_approver') return { kind: 'not_an_approver' };
    if (problem === 'self_forbidden') return { kind: 'self_forbidden' };
    const previous = confirmation.votes ?? [];
    if (previous.some((v) => v.userId === voter.userId)) return { kind: 'already_voted' };
    if (previous.length >= MAX_VOTES) return { kind: 'votes_full' };
    const votes: Vote[] = [...previous, { userId: voter.userId, proceed: ballot.proceed, option: ballot.option, at }];
    const { decided, needed } = tally(confirmation.approval, votes);
    if (decided === null) {
      const counted: Confirmation = { ...confirmation, votes };
      this.replacePending(confirmation, counted);
      return { kind: 'recorded', votes: votes.map((v) => ({ ...v })), needed };
    }
    const settlement = { state: decided, proceed: decided === 'confirmed', feedback: ballot.feedback, settledAt: at };
    // A plain confirmation answered through vote() stays plain.
    const decision = confirmation.approval ? { votes, option: ballot.option, data: decided === 'confirmed' ? ballot.data : null, decidedBy: voter.userId } : {};
    return { kind: 'settled', confirmation: { ...this.leavePending(confirmation, { ...settlement, ...decision }) }, waitingInstances: [] };
  }

  async pendingForApprover(userId: string, groups: readonly string[]): Promise<Confirmation[]> {
    const found = new Set<string>(this.pendingByApprover.get(userId));
    for (const group of groups) for (const id of this.pendingByGroup.get(group)) found.add(id);
    const pending: Confirmation[] = [];
    for (const id of found) {
      const confirmation = this.byId.get(id);
      if (confirmation?.state === 'pending') pending.push({ ...confirmation });
    }
    return pending;
  }

  async addApprovers(callbackId: string, users: readonly string[], groups: readonly string[]): Promise<AddApproversOutcome> {
    this.dropExpiredRecords(Date.now());
    const confirmation = this.byId.get(callbackId);
    if (!confirmation) return { kind: 'not_found' };
    if (confirmation.state !== 'pending') return { kind: 'already', confirmation: { ...confirmation } };
    const before = confirmation.approval?.approvers ?? { users: [confirmation.userId], groups: [] };
    const newUsers = [...new Set(users)].filter((u) => !before.users.includes(u)).slice(0, Math.max(MAX_APPROVERS_TOTAL - before.users.length, 0));
    const newGroups = [...new Set(groups)].filter((g) => !before.groups.includes(g)).slice(0, Math.max(MAX_APPROVERS_TOTAL - before.groups.length, 0));
    const approvers = { users: [...before.users, ...newUsers], groups: [...before.groups, ...newGroups] };
    const updated: Confirmation = {
      ...confirmation,
      approval: { ...(confirmation.approval ?? { policy: 'any' }), approvers },
      votes: confirmation.votes ?? [],
      option: confirmation.option ?? null,
      data: confirmation.data ?? null,
      decidedBy: confirmation.decidedBy ?? null,
    };
    this.replacePending(confirmation, updated);
    this.indexApprovers(callbackId, confirmation.approval?.approvers ? newUsers : approvers.users, newGroups);
    return { kind: 'added', confirmation: { ...updated }, users: newUsers, groups: newGroups };
  }

  /** A pending record replaced by its next value (records handed out stay as they were). */
  private replacePending(previous: Confirmation, next: Confirmation): void {
    this.byId.set(next.callbackId, next);
    this.pendingByUser.delete(previous.userId, previous);
    this.pendingByTask.delete(previous.taskId, previous);
    this.pendingByUser.add(next.userId, next);
    this.pendingByTask.add(next.taskId, next);
  }

  private leavePending(confirmation: Confirmation, settlement: Settlement & Partial<Confirmation>): Confirmation {
    this.pendingByUser.delete(confirmation.userId, confirmation);
    this.pendingByTask.delete(confirmation.taskId, confirmation);
    this.pending--;
    const approvers = confirmation.approval?.approvers;
    if (approvers) {
      for (const user of approvers.users) this.pendingByApprover.delete(user, confirmation.callbackId);
      for (const group of approvers.groups) this.pendingByGroup.delete(group, confirmation.callbackId);
    }
    return this.markSettled(confirmation, settlement);
  }

  private indexApprovers(callbackId: string, users: readonly string[], groups: readonly string[]): void {
    for (const user of users) this.pendingByApprover.add(user, callbackId);
    for (const group of groups) this.pendingByGroup.add(group, callbackId);
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
  private markSettled(confirmation: Confirmation, settlement: Settlement & Partial<Confirmation>): Confirmation {
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
