import type { ConfirmationState } from '../protocol/server-frames.js';
import type { Confirmation, Vote } from './confirmation.js';

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
  | { kind: 'not_found' }
  /** An answer (confirmed/rejected) to a confirmation with approvals: it goes through vote(). */
  | { kind: 'needs_vote'; confirmation: Confirmation };

/** Who votes: the connection's user and the groups it carries. */
export interface Voter {
  userId: string;
  groups: readonly string[];
}

/** What a vote says, already checked against the prompt's options and form. */
export interface Ballot {
  proceed: boolean;
  option: string | null;
  /** Only on a proceeding answer to a prompt with a form. */
  data: Record<string, unknown> | null;
  feedback: string | null;
}

export type VoteOutcome =
  /** Counted; the policy is not decided yet: `needed` more approvals confirm it. */
  | { kind: 'recorded'; votes: Vote[]; needed: number }
  /** This vote decided it. */
  | { kind: 'settled'; confirmation: Confirmation; waitingInstances: string[] }
  | { kind: 'already'; confirmation: Confirmation }
  | { kind: 'not_found' }
  | { kind: 'not_an_approver' }
  | { kind: 'self_forbidden' }
  | { kind: 'already_voted' }
  /** MAX_VOTES votes are in and none decided it: only the expiry (or a cancel) ends it now. */
  | { kind: 'votes_full' };

export type AddApproversOutcome =
  /** `users` and `groups` are the ones that were not approvers before. */
  | { kind: 'added'; confirmation: Confirmation; users: string[]; groups: string[] }
  | { kind: 'already'; confirmation: Confirmation }
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

  /**
   * Compare-and-set from `pending` among the given user's confirmations. An answer
   * (`confirmed`/`rejected`) to a confirmation with approvals is not taken: `needs_vote`.
   */
  abstract settle(userId: string, callbackId: string, settlement: Settlement): Promise<SettleOutcome>;

  /**
   * One approver's vote, counted and decided in one atomic step: who may vote (the listed
   * users and groups, else only the confirmation's user), forbid_self, one vote per user,
   * then the policy (any: this vote settles; all: every listed user approves, a rejection
   * rejects; quorum: k approvals confirm, rejections settle once k is out of reach among the
   * listed users when no group is listed). A plain confirmation takes it as a first answer.
   */
  abstract vote(callbackId: string, voter: Voter, ballot: Ballot, at: number): Promise<VoteOutcome>;

  /** Pending confirmations with approvers that list the user or one of the groups (the user's own prompts are pendingForUser's). */
  abstract pendingForApprover(userId: string, groups: readonly string[]): Promise<Confirmation[]>;

  /**
   * Adds approvers to a pending confirmation (escalation). Without approvers before, its user
   * is kept among them, since it was the one who could answer.
   */
  abstract addApprovers(callbackId: string, users: readonly string[], groups: readonly string[]): Promise<AddApproversOutcome>;

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
