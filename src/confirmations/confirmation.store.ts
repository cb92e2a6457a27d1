import type { ConfirmationState } from '../protocol/server-frames.js';
import type { Confirmation } from './confirmation.js';

export interface TaskCancellation {
  taskId: string;
  userId: string;
  cancelledAt: number;
}

export type SettledState = Exclude<ConfirmationState, 'pending'>;

export interface Settlement {
  state: SettledState;
  proceed: boolean;
  feedback: string | null;
  settledAt: number;
}

export interface CreateLimits {
  maxPendingPerUser: number;
  maxPendingTotal: number;
}

export type CreateOutcome =
  /** Stored; `confirmation.state` is `cancelled` when its task was already cancelled. */
  | { kind: 'created'; confirmation: Confirmation }
  /** The callback_id exists for the same user and task: the same confirmation. */
  | { kind: 'existing'; confirmation: Confirmation }
  /** The callback_id exists for another user or task. */
  | { kind: 'conflict' }
  | { kind: 'user_cap' }
  | { kind: 'total_cap' };

export type SettleOutcome =
  /** This call settled it; `waitingInstances` are the instances with callers waiting. */
  | { kind: 'settled'; confirmation: Confirmation; waitingInstances: string[] }
  | { kind: 'already'; confirmation: Confirmation }
  /** Not among this user's confirmations (unknown, or another user's). */
  | { kind: 'not_found' };

/**
 * Where confirmations and task cancellations live: in this process (one instance) or in
 * Redis (cluster mode). Every method that decides something (create, settle) is atomic in
 * its implementation: two instances can never both create one callback_id, both settle one
 * confirmation, or together pass a cap. Records are values: what a store hands out is the
 * caller's, and a later settle does not change it. A settled record or a cancellation is
 * gone once its retention has passed. test/contracts/confirmation-store.spec.ts holds every
 * implementation to this. Timers, waiters and delivery stay above this seam.
 */
export abstract class ConfirmationStore {
  /**
   * Stores a new pending confirmation (or a cancelled one, when its task is cancelled),
   * unless its callback_id exists. `waiter` is an instance that will wait for the decision.
   */
  abstract create(draft: Confirmation, limits: CreateLimits, waiter: string | null): Promise<CreateOutcome>;

  abstract get(callbackId: string): Promise<Confirmation | undefined>;

  /** Compare-and-set from `pending` among the given user's confirmations. */
  abstract settle(userId: string, callbackId: string, settlement: Settlement): Promise<SettleOutcome>;

  /** Registers an instance as waiting for the decision; answers the confirmation as it stands. */
  abstract watch(confirmation: Confirmation, instance: string): Promise<Confirmation | undefined>;

  /** Pending confirmations whose expiry has passed (found by any instance, for instances that died). */
  abstract overdue(now: number, limit: number): Promise<Array<{ userId: string; callbackId: string }>>;

  abstract pendingForUser(userId: string): Promise<Confirmation[]>;

  abstract pendingForTask(taskId: string): Promise<Confirmation[]>;

  /** Pending confirmations in the whole deployment. */
  abstract pendingTotal(): Promise<number>;

  /** True when the user was asked anything about the task (pending or within retention). */
  abstract involves(userId: string, taskId: string): Promise<boolean>;

  /** Records the cancellation first, so a confirmation created from now on is born cancelled. */
  abstract recordCancellation(cancellation: TaskCancellation): Promise<void>;

  abstract cancellationOf(userId: string, taskId: string): Promise<TaskCancellation | undefined>;

  /** The task's most recent retained cancellation, by whichever user. */
  abstract latestCancellationOf(taskId: string): Promise<TaskCancellation | undefined>;
}
