import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUuid } from '../common/random-uuid.js';
import { LongTimer, MAX_TIMER_MS, timerAt } from '../common/timers.js';
import type { Environment, TimeoutDecision } from '../config/environment.js';
import { DeliveryService, ResolutionEvent } from '../delivery/delivery.service.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type { ConfirmationResolvedFrame, ConfirmationVoteFrame } from '../protocol/server-frames.js';
import type { Audience } from '../delivery/delivery.service.js';
import { checkFormData } from '../approvals/form-schema.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { StateBackend } from '../engine/state-backend.js';
import { tracing } from '../tracing/tracing.js';
import { infoLogged } from '../logging/info-logged.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import type { ReplicationFence } from '../redis/replication-fence.js';
import { buildStepResultFrame, Confirmation, decidedByOf, LinkGrant, NewConfirmation, Vote, voteViews, withWebhookFields } from './confirmation.js';
import { newLinkNonce } from '../links/action-link-token.js';
import { currentPromptJson, promptFrame } from './prompt-json.js';
import { ConfirmationEvents } from './confirmation-events.js';
import { SchedulerService } from '../schedule/scheduler.service.js';
import type { ClaimedRun } from '../schedule/schedule.store.js';
import { Ballot, ConfirmationStore, CreateLimits, SettledState, Settlement, TaskCancellation, Voter } from './confirmation.store.js';

export type { TaskCancellation } from './confirmation.store.js';

/** What an answer says beyond proceed and feedback (approvals, issue 21). */
export interface AnswerDetails {
  /** One of the prompt's option ids. */
  option?: string;
  /** The filled form. */
  data?: Record<string, unknown>;
  /** The answering connection's groups (approvers named by group). */
  groups?: readonly string[];
  /** True when the answer stated `proceed` itself (an option's proceed must then agree). */
  proceedGiven?: boolean;
}

const NO_GROUPS: readonly string[] = [];

export interface ConfirmationStats {
  pending: number;
  created: number;
  confirmed: number;
  rejected: number;
  timedOut: number;
  cancelled: number;
}

const RETRY_AFTER_SECONDS = 5;
/** How often overdue confirmations (whose instance died) are looked for, in cluster mode. */
const OVERDUE_SCAN_MS = 1000;
/** An expiry this late was missed by its own instance's timer: another instance settles it. */
const OVERDUE_GRACE_MS = 500;
/** How often waiting callers re-read their confirmation, in case a wake-up message was lost. */
const WAITER_RECHECK_MS = 5000;

/**
 * Owns every confirmation from the moment a task service asks until its decision reaches
 * the caller: delivery to the user's sockets, the first answer, expiry, task cancellation,
 * and the callers waiting. What is stored, and where, is the ConfirmationStore's business;
 * this service keeps only what belongs to this instance: timers and waiting callers.
 */
@Injectable()
export class ConfirmationService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ConfirmationService.name);
  /** Expiry timers of the confirmations created here (a LongTimer past MAX_TIMER_MS). */
  private readonly expiryTimers = new Map<string, NodeJS.Timeout | LongTimer>();
  /** Confirmations created here with scheduled jobs: settling one here ends them at once. */
  private readonly scheduledHere = new Set<string>();
  /** Callers waiting here, by callback_id. */
  private readonly waiters = new Map<string, Set<(confirmation: Confirmation | undefined) => void>>();
  /**
   * Wake-ups from another instance that found no caller waiting here yet, with when they
   * came: the decision can arrive between create() (which registered this instance as a
   * waiter) and the caller's waitForSettlement().
   */
  private readonly earlyWakeUps = new Map<string, number>();
  private readonly counters = { created: 0, confirmed: 0, rejected: 0, timedOut: 0, cancelled: 0 };
  private readonly defaultTimeoutMs: number;
  private readonly maxTimeoutMs: number;
  private readonly timeoutDecision: TimeoutDecision;
  private readonly limits: CreateLimits;
  private readonly instanceId: string;
  private backgroundTimers: NodeJS.Timeout[] = [];
  /** Set when the app shuts down: nothing new is accepted and nobody waits any more. */
  private closing = false;
  /** REDIS_WAIT_REPLICAS: nothing is acknowledged before replicas hold it. */
  private readonly fence: ReplicationFence | null;
  /** Decisions that passed the fence of the instance that made them (announced ones). */
  private readonly replicated = new WeakSet<Confirmation>();

  constructor(
    config: ConfigService<Environment, true>,
    private readonly store: ConfirmationStore,
    private readonly delivery: DeliveryService,
    identity: InstanceIdentity,
    private readonly metrics: MetricsService,
    private readonly backend: StateBackend,
    private readonly events: ConfirmationEvents,
    private readonly scheduler: SchedulerService,
  ) {
    this.fence = backend.replicationFence;
    this.defaultTimeoutMs = config.get('WEBSOCKET_CALLBACK_TIMEOUT', { infer: true }) * 1000;
    this.maxTimeoutMs = config.get('WEBSOCKET_MAX_CALLBACK_TIMEOUT', { infer: true }) * 1000;
    this.timeoutDecision = config.get('WEBSOCKET_TIMEOUT_DECISION', { infer: true });
    this.limits = {
      maxPendingPerUser: config.get('CONFIRMATION_MAX_PENDING_PER_USER', { infer: true }),
      maxPendingTotal: config.get('CONFIRMATION_MAX_PENDING_TOTAL', { infer: true }),
    };
    this.instanceId = identity.id;
    this.delivery.onResolution((event) => this.wakeWaiters(event));
    this.delivery.onReconnect(() => void this.recheckWaiters());
    this.scheduler.handle(REMINDER, (run) => this.remind(run));
    this.scheduler.handle(ESCALATION, (run) => this.escalate(run));
  }

  onModuleInit(): void {
    // Overdue confirmations and waiters of a lost instance exist only where there are peers.
    if (!this.backend.hasPeers) return;
    this.backgroundTimers = [
      setInterval(() => void this.settleOverdue(), OVERDUE_SCAN_MS),
      setInterval(() => void this.recheckWaiters(), WAITER_RECHECK_MS),
    ];
    for (const timer of this.backgroundTimers) timer.unref();
  }

  onModuleDestroy(): void {
    this.closing = true;
    for (const timer of this.backgroundTimers) clearInterval(timer);
    for (const timer of this.expiryTimers.values()) clearExpiryTimer(timer);
    this.expiryTimers.clear();
    this.scheduledHere.clear();
    for (const [callbackId, waiting] of this.waiters) {
      this.waiters.delete(callbackId);
      for (const wake of waiting) wake(undefined);
    }
    this.earlyWakeUps.clear();
  }

  /**
   * Registers a confirmation and pushes it to the user's open connections. With a
   * caller-given id that already exists, returns the existing one instead. `willWait`
   * marks this instance as waiting for the decision.
   */
  create(input: NewConfirmation, willWait = false): Promise<{ confirmation: Confirmation; created: boolean }> {
    const tracer = tracing.tracer;
    if (tracer) return tracer.create((traceContext) => this.createConfirmation(input, willWait, traceContext));
    return this.createConfirmation(input, willWait);
  }

  /** `traceContext`: kept with the record while tracing is on. */
  private async createConfirmation(input: NewConfirmation, willWait: boolean, traceContext?: string): Promise<{ confirmation: Confirmation; created: boolean }> {
    if (this.closing) throw shuttingDown();
    const now = Date.now();
    const timeoutMs = Math.min(input.timeoutSeconds === undefined ? this.defaultTimeoutMs : input.timeoutSeconds * 1000, this.maxTimeoutMs);
    const callbackId = input.callbackId ?? randomUuid();
    const expiresAt = now + timeoutMs;
    let draft: Confirmation = {
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
      ...(input.approval && { approval: input.approval, votes: [], option: null, data: null, decidedBy: null }),
    };
    if (traceContext !== undefined) draft.traceContext = traceContext;
    if (input.callbackUrl !== undefined || input.metadata !== undefined) draft = withWebhookFields(draft, input);
    if (input.links) (draft as { links?: LinkGrant }).links = linkGrant(input.links, now, expiresAt);
    const outcome = await this.store.create(draft, this.limits, willWait ? this.instanceId : null);
    if (outcome.kind === 'created' || outcome.kind === 'existing') await this.fence?.pass();
    switch (outcome.kind) {
      case 'conflict':
        throw new GatewayError(ErrorCode.CallbackConflict, `callback_id ${callbackId} already belongs to another user or task`);
      case 'user_cap':
        throw new GatewayError(ErrorCode.TooManyPending, `User ${input.userId} already has ${this.limits.maxPendingPerUser} pending confirmations`, RETRY_AFTER_SECONDS);
      case 'total_cap':
        throw new GatewayError(ErrorCode.TooManyPending, 'Too many pending confirmations', RETRY_AFTER_SECONDS);
      case 'existing':
        // With REDIS_WAIT_REPLICAS the first attempt may have stopped at the fence, before its delivery.
        if (this.fence && outcome.confirmation.state === 'pending') await this.deliverPrompt(outcome.confirmation, input.acceptedAt);
        return { confirmation: outcome.confirmation, created: false };
    }
    const confirmation = outcome.confirmation;
    this.counters.created++;
    if (this.events.hears('created')) await this.events.emit({ type: 'created', confirmation, at: now, requestId: input.requestId, apiKeyId: input.apiKeyId, requestedBy: input.requestedBy });
    if (confirmation.state === 'cancelled') {
      this.counters.cancelled++;
      this.logger.log({ reqId: input.requestId }, `Confirmation ${callbackId} for task ${confirmation.taskId} created cancelled (task was cancelled)`);
      return { confirmation, created: true };
    }
    this.expiryTimers.set(callbackId, this.armExpiry(confirmation.userId, callbackId, timeoutMs, expiresAt));
    if (input.reminders || input.escalation?.length) await this.scheduleFollowUps(confirmation, input);
    if (infoLogged()) this.logger.log({ reqId: input.requestId }, `Confirmation ${callbackId} created for user ${confirmation.userId}, task ${confirmation.taskId}, step ${confirmation.step}`);
    await this.deliverPrompt(confirmation, input.acceptedAt);
    return { confirmation, created: true };
  }

  /**
   * Stores the confirmation's timed jobs (reminders, escalation steps), so whichever instance
   * is alive runs each. Only runs that fall before the expiry are scheduled. A run whose
   * claimer died before completing it runs again (SchedulerService): remind and escalate are
   * safe to repeat.
   */
  private async scheduleFollowUps(confirmation: Confirmation, input: NewConfirmation): Promise<void> {
    const { callbackId, createdAt, expiresAt } = confirmation;
    this.scheduledHere.add(callbackId);
    const reminders = input.reminders;
    if (reminders) {
      const everyMs = Math.round(reminders.everySeconds * 1000);
      const times = Math.min(reminders.max, Math.ceil((expiresAt - createdAt) / everyMs) - 1);
      if (times > 0) await this.scheduler.schedule({ callbackId, name: REMINDER, kind: REMINDER, times, everyMs }, createdAt + everyMs);
    }
    const steps = input.escalation ?? [];
    await Promise.all(
      steps.map((step, index) => {
        const dueAt = createdAt + Math.round(step.afterSeconds * 1000);
        if (dueAt >= expiresAt) return null;
        const data = { step: index, users: step.users, groups: step.groups };
        return this.scheduler.schedule({ callbackId, name: `${ESCALATION}:${index}`, kind: ESCALATION, times: 1, everyMs: 0, data }, dueAt);
      }),
    );
  }

  /**
   * Runs an escalation step: its users and groups become approvers, and are told. Run again
   * (its first claimer died), it adds nobody and tells nobody; its `escalated` event has the
   * same webhook-id (from the step).
   */
  private async escalate(run: ClaimedRun): Promise<void> {
    const { callbackId } = run.job;
    const { step, users, groups } = run.job.data as { step: number; users: string[]; groups: string[] };
    const confirmation = await this.store.get(callbackId);
    if (!confirmation || confirmation.state !== 'pending') {
      await this.scheduler.cancel(callbackId);
      return;
    }
    let escalated: Awaited<ReturnType<ConfirmationService['addApprovers']>>;
    try {
      escalated = await this.addApprovers(callbackId, { users, groups });
    } catch (err) {
      // Settled (or gone) between the read and the addition: nothing is left to escalate.
      if (err instanceof GatewayError && (err.code === ErrorCode.AlreadyResolved || err.code === ErrorCode.CallbackNotFound)) return void (await this.scheduler.cancel(callbackId));
      throw err;
    }
    const added = { users: escalated.users, groups: escalated.groups };
    if (infoLogged()) this.logger.log({ callbackId }, `Confirmation ${callbackId} escalated (step ${step}): added users ${added.users.join(', ') || '-'}, groups ${added.groups.join(', ') || '-'}`);
    if (this.events.hears('escalated')) await this.events.emit({ type: 'escalated', confirmation: escalated.confirmation, at: Date.now(), step, ...added, instanceId: this.instanceId });
  }

  /**
   * Runs a reminder: the prompt again, with `reminder: n`, to whoever should see it. Run again
   * (its first claimer died), it carries the same n: clients show reminder n once, and its
   * webhook has the same webhook-id.
   */
  private async remind(run: ClaimedRun): Promise<void> {
    const { callbackId } = run.job;
    const confirmation = await this.store.get(callbackId);
    if (!confirmation || confirmation.state !== 'pending') {
      // Settled on an instance that did not know of its jobs: they end here.
      await this.scheduler.cancel(callbackId);
      return;
    }
    // The prompt as it stands (with approvals: current approvers and votes), to everyone who may answer.
    const json = currentPromptJson(confirmation);
    if (json === null) return;
    const frame = { ...(JSON.parse(json) as object), reminder: run.run };
    const connections = await this.delivery.deliver(audienceOf(confirmation), frame);
    if (infoLogged()) this.logger.log({ callbackId, userId: confirmation.userId }, `Reminder ${run.run} of ${callbackId} sent to ${connections} connection(s)`);
    if (this.events.hears('reminder')) await this.events.emit({ type: 'reminder', confirmation, at: Date.now(), reminder: run.run, instanceId: this.instanceId, connections });
  }

  private async deliverPrompt(confirmation: Confirmation, acceptedAt: NewConfirmation['acceptedAt']): Promise<void> {
    // When the prompt went out: an answer to it (on any instance) comes later.
    const at = Date.now();
    const connections = confirmation.approval
      ? await this.delivery.deliver({ ...audienceOf(confirmation), acceptedAt }, currentPromptJson(confirmation) as string)
      : await this.delivery.deliver({ userIds: [confirmation.userId], acceptedAt }, promptFrame(confirmation) as object);
    if (this.events.hears('delivered')) await this.events.emit({ type: 'delivered', confirmation, at, instanceId: this.instanceId, connections });
  }

  get(callbackId: string): Promise<Confirmation | undefined> {
    return this.store.get(callbackId);
  }

  pendingForUser(userId: string): Promise<Confirmation[]> {
    return this.store.pendingForUser(userId);
  }

  pendingForTask(taskId: string): Promise<Confirmation[]> {
    return this.store.pendingForTask(taskId);
  }

  /** Pending confirmations the user may answer as a listed approver or a member of a listed group. */
  pendingForApprover(userId: string, groups: readonly string[]): Promise<Confirmation[]> {
    return this.store.pendingForApprover(userId, groups);
  }

  /**
   * Adds approvers to a pending confirmation (escalation) and sends them its prompt. Answers
   * the confirmation and the users and groups that were new.
   */
  async addApprovers(callbackId: string, approvers: { users?: readonly string[]; groups?: readonly string[] }): Promise<{ confirmation: Confirmation; users: string[]; groups: string[] }> {
    const outcome = await this.store.addApprovers(callbackId, approvers.users ?? [], approvers.groups ?? []);
    if (outcome.kind === 'not_found') throw new GatewayError(ErrorCode.CallbackNotFound, `No confirmation with callback_id ${callbackId}`);
    if (outcome.kind === 'already') throw new GatewayError(ErrorCode.AlreadyResolved, `Confirmation ${callbackId} is already ${outcome.confirmation.state}`);
    const { confirmation, users, groups } = outcome;
    if (users.length > 0 || groups.length > 0) {
      const prompt = currentPromptJson(confirmation);
      // Listed users who are also the task's user or group members may see it twice; clients keep prompts by callback_id.
      if (prompt !== null) await this.delivery.deliver({ userIds: users, groupIds: groups }, prompt);
    }
    return outcome;
  }

  involves(userId: string, taskId: string): Promise<boolean> {
    return this.store.involves(userId, taskId);
  }

  cancellationOf(userId: string, taskId: string): Promise<TaskCancellation | undefined> {
    return this.store.cancellationOf(userId, taskId);
  }

  latestCancellationOf(taskId: string): Promise<TaskCancellation | undefined> {
    return this.store.latestCancellationOf(taskId);
  }

  /**
   * The user's answer. A plain confirmation: the first answer wins and only its own user may
   * give it (one store step, as it always was). One with approvals: a vote, checked against
   * the prompt's options and form, counted under its policy. Answers the confirmation as it
   * stands after the answer (pending when the vote did not decide it).
   */
  async answer(
    callbackId: string,
    userId: string,
    proceed: boolean,
    feedback: string | null,
    answeredOnConnectionId?: string,
    details: AnswerDetails = {},
  ): Promise<Confirmation> {
    const voter: Voter = { userId, groups: details.groups ?? NO_GROUPS };
    if (details.option !== undefined || details.data !== undefined) {
      const confirmation = await this.store.get(callbackId);
      if (!confirmation) throw notFound(callbackId);
      return this.vote(confirmation, voter, proceed, feedback, details, answeredOnConnectionId);
    }
    const settlement: Settlement = { state: proceed ? 'confirmed' : 'rejected', proceed, feedback, settledAt: Date.now() };
    const outcome = await this.store.settle(userId, callbackId, settlement);
    if (outcome.kind === 'needs_vote') return this.vote(outcome.confirmation, voter, proceed, feedback, details, answeredOnConnectionId);
    if (outcome.kind === 'not_found') {
      const elsewhere = await this.store.get(callbackId);
      if (elsewhere?.approval) return this.vote(elsewhere, voter, proceed, feedback, details, answeredOnConnectionId);
      if (elsewhere) throw new GatewayError(ErrorCode.Forbidden, `Confirmation ${callbackId} belongs to another user`);
      throw notFound(callbackId);
    }
    if (outcome.kind === 'already') throw await this.alreadyResolved(outcome.confirmation);
    await this.announceSettled(outcome.confirmation, outcome.waitingInstances, answeredOnConnectionId, userId);
    return outcome.confirmation;
  }

  private async alreadyResolved(confirmation: Confirmation): Promise<GatewayError> {
    // "Already confirmed" tells the decision too: not before replicas hold it.
    await this.fence?.pass();
    return new GatewayError(ErrorCode.AlreadyResolved, `Confirmation ${confirmation.callbackId} is already ${confirmation.state}`);
  }

  private async vote(
    confirmation: Confirmation,
    voter: Voter,
    proceed: boolean,
    feedback: string | null,
    details: AnswerDetails,
    answeredOnConnectionId: string | undefined,
  ): Promise<Confirmation> {
    const { callbackId } = confirmation;
    if (confirmation.state !== 'pending') throw await this.alreadyResolved(confirmation);
    const ballot = ballotOf(confirmation, proceed, feedback, details);
    const outcome = await this.store.vote(callbackId, voter, ballot, Date.now());
    switch (outcome.kind) {
      case 'not_found':
        throw notFound(callbackId);
      case 'already':
        throw await this.alreadyResolved(outcome.confirmation);
      case 'not_an_approver':
        if (!confirmation.approval) throw new GatewayError(ErrorCode.Forbidden, `Confirmation ${callbackId} belongs to another user`);
        throw new GatewayError(ErrorCode.NotAnApprover, `User ${voter.userId} is not an approver of ${callbackId}`);
      case 'self_forbidden':
        throw new GatewayError(ErrorCode.SelfApprovalForbidden, `User ${voter.userId} asked for ${callbackId} and may not approve it`);
      case 'already_voted':
        throw new GatewayError(ErrorCode.AlreadyVoted, `User ${voter.userId} already voted on ${callbackId}`);
      case 'votes_full':
        throw new GatewayError(ErrorCode.CapacityExceeded, `Confirmation ${callbackId} holds the most votes it keeps; it ends at its expiry`);
      case 'recorded': {
        await this.fence?.pass();
        const counted: Confirmation = { ...confirmation, votes: outcome.votes };
        await this.announceVote(counted, outcome.votes, outcome.needed);
        return counted;
      }
    }
    await this.announceSettled(outcome.confirmation, outcome.waitingInstances, answeredOnConnectionId, voter.userId);
    return outcome.confirmation;
  }

  /** A vote that did not decide: every approver's connections see the count. */
  private async announceVote(confirmation: Confirmation, votes: Vote[], needed: number): Promise<void> {
    const approval = confirmation.approval;
    const frame: ConfirmationVoteFrame = {
      type: 'confirmation_vote',
      callback_id: confirmation.callbackId,
      task_id: confirmation.taskId,
      votes: voteViews(votes),
      policy: approval?.policy ?? 'any',
      ...(approval?.quorum !== undefined && { quorum: approval.quorum }),
      needed,
      timestamp: epochSeconds(),
    };
    await this.delivery.deliver(audienceOf(confirmation), frame);
  }

  /** Answers every pending confirmation of the user's task with "do not proceed". */
  async cancelTask(userId: string, taskId: string): Promise<Confirmation[]> {
    const cancelledAt = Date.now();
    await this.store.recordCancellation({ userId, taskId, cancelledAt });
    const affected = (await this.store.pendingForUser(userId)).filter((c) => c.taskId === taskId);
    const settled: Confirmation[] = [];
    for (const confirmation of affected) {
      const outcome = await this.store.settle(userId, confirmation.callbackId, { state: 'cancelled', proceed: false, feedback: null, settledAt: cancelledAt });
      if (outcome.kind !== 'settled') continue;
      await this.announceSettled(outcome.confirmation, outcome.waitingInstances);
      settled.push(outcome.confirmation);
    }
    return settled;
  }

  /**
   * Resolves with the confirmation once it is settled, or as it stands when `maxWaitMs`
   * passes or the caller stops waiting (`onStop` is handed the function that ends the
   * wait, e.g. for when an HTTP caller goes away). Undefined for an unknown id. With
   * `watched`, this instance is already registered as a waiter (by create).
   */
  async waitForSettlement(
    callbackId: string,
    maxWaitMs = Infinity,
    onStop?: (stop: () => void) => void,
    known?: Confirmation,
  ): Promise<Confirmation | undefined> {
    const confirmation = await this.settlementOf(callbackId, maxWaitMs, onStop, known);
    // A decision read from the store may be one whose own fence failed: it is not told before replicas have it.
    if (this.fence && confirmation && confirmation.state !== 'pending' && !this.replicated.has(confirmation)) await this.fence.pass();
    return confirmation;
  }

  private async settlementOf(
    callbackId: string,
    maxWaitMs: number,
    onStop?: (stop: () => void) => void,
    known?: Confirmation,
  ): Promise<Confirmation | undefined> {
    let confirmation = known ?? (await this.store.get(callbackId));
    if (!confirmation || confirmation.state !== 'pending' || maxWaitMs <= 0 || this.closing) return confirmation;
    if (!known) {
      confirmation = await this.store.watch(confirmation, this.instanceId);
      if (!confirmation || confirmation.state !== 'pending') return confirmation;
    }
    const standing = confirmation;
    return new Promise((resolve) => {
      let waiting = this.waiters.get(callbackId);
      if (!waiting) this.waiters.set(callbackId, (waiting = new Set()));
      const set = waiting;
      const finish = (settled: Confirmation | undefined = standing) => {
        if (!set.delete(finish)) return;
        if (set.size === 0 && this.waiters.get(callbackId) === set) this.waiters.delete(callbackId);
        if (timer) clearTimeout(timer);
        resolve(settled);
      };
      // Without a limit no timer is needed: the expiry settles every confirmation.
      const timer = Number.isFinite(maxWaitMs) ? setTimeout(() => void this.finishWithLatest(callbackId, finish), Math.min(maxWaitMs, MAX_TIMER_MS)) : undefined;
      set.add(finish);
      onStop?.(() => finish());
      if (this.earlyWakeUps.delete(callbackId)) this.wakeFromStore(callbackId);
    });
  }

  /** True once the app shuts down: a wait that ended without a decision ended for that. */
  get isShuttingDown(): boolean {
    return this.closing;
  }

  /** Confirmations created here and still pending. */
  get pendingCount(): number {
    return this.expiryTimers.size;
  }

  /** Pending confirmations in the whole deployment (this instance's, in memory mode). */
  pendingTotal(): Promise<number> {
    return this.store.pendingTotal();
  }

  stats(): ConfirmationStats {
    return { pending: this.pendingCount, ...this.counters };
  }

  /**
   * A method of its own so that the timer's closure holds the two ids only: made in
   * createConfirmation it would hold that whole scope (the record with its prompt, the
   * request's input), and `expiryTimers`, added to and deleted from on every prompt, keeps
   * its old hash tables and their timers reachable until a full collection.
   */
  private armExpiry(userId: string, callbackId: string, timeoutMs: number, expiresAt: number): NodeJS.Timeout | LongTimer {
    const expire = () => void this.expire(userId, callbackId);
    // Up to 30 days: longer than one setTimeout holds.
    return timeoutMs <= MAX_TIMER_MS ? setTimeout(expire, timeoutMs) : timerAt(expiresAt, expire, true);
  }

  private async expire(userId: string, callbackId: string): Promise<void> {
    this.expiryTimers.delete(callbackId);
    // Settled elsewhere or not, its jobs have no run left at its expiry (none is scheduled past it;
    // one handed out again after a lease finds it settled and ends them).
    this.scheduledHere.delete(callbackId);
    const proceed = this.timeoutDecision === 'proceed';
    try {
      const outcome = await this.store.settle(userId, callbackId, { state: 'timed_out', proceed, feedback: null, settledAt: Date.now() });
      if (outcome.kind !== 'settled') return;
      await this.announceSettled(outcome.confirmation, outcome.waitingInstances);
    } catch (err) {
      // Redis away: the overdue scan of whichever instance sees it first settles it later.
      this.logger.warn(`Could not time out ${callbackId} now: ${(err as Error).message}`);
    }
  }

  /** Times out confirmations whose own instance's timer is gone (that instance died). */
  private async settleOverdue(): Promise<void> {
    try {
      const overdue = await this.store.overdue(Date.now() - OVERDUE_GRACE_MS, 100);
      for (const { userId, callbackId } of overdue) await this.expire(userId, callbackId);
    } catch {
      // Redis away: the next scan retries; readiness already reports it.
    }
  }

  /** Tells the user's connections, the caller waiting here and the instances with waiting callers. */
  private announceSettled(confirmation: Confirmation, waitingInstances: string[], exceptConnectionId?: string, byUserId?: string): Promise<void> {
    const tracer = tracing.tracer;
    if (tracer) return tracer.settled(confirmation, () => this.announceSettledNow(confirmation, waitingInstances, exceptConnectionId, byUserId));
    return this.announceSettledNow(confirmation, waitingInstances, exceptConnectionId, byUserId);
  }

  private async announceSettledNow(confirmation: Confirmation, waitingInstances: string[], exceptConnectionId?: string, byUserId?: string): Promise<void> {
    if (this.fence) {
      await this.fence.pass();
      this.replicated.add(confirmation);
    }
    const timer = this.expiryTimers.get(confirmation.callbackId);
    if (timer) {
      clearExpiryTimer(timer);
      this.expiryTimers.delete(confirmation.callbackId);
    }
    if (this.scheduledHere.delete(confirmation.callbackId)) {
      // Elsewhere its jobs end when they next come due and find it settled.
      await this.scheduler.cancel(confirmation.callbackId).catch(() => undefined);
    }
    const state = confirmation.state as SettledState;
    this.counters[COUNTER_OF[state]]++;
    const seconds = ((confirmation.settledAt ?? Date.now()) - confirmation.createdAt) / 1000;
    this.metrics.observeDecision(state, seconds);
    this.logOutcome(confirmation, state, seconds, exceptConnectionId);
    const frame: ConfirmationResolvedFrame = {
      type: 'confirmation_resolved',
      callback_id: confirmation.callbackId,
      task_id: confirmation.taskId,
      state,
      proceed: confirmation.proceed ?? false,
      timestamp: epochSeconds(confirmation.settledAt ?? Date.now()),
    };
    // Every approver's card closes; a plain confirmation's frame and audience stay as they were.
    if (confirmation.approval) {
      frame.option = confirmation.option ?? null;
      frame.decided_by = decidedByOf(confirmation);
    }
    const audience: Audience = confirmation.approval ? { ...audienceOf(confirmation), exceptConnectionId } : { userIds: [confirmation.userId], exceptConnectionId };
    await Promise.all([
      this.delivery.deliver(audience, frame),
      this.delivery.announceResolution(confirmation, waitingInstances),
      this.events.hears('settled') ? this.events.emit({ type: 'settled', confirmation, at: Date.now(), userId: byUserId, connectionId: exceptConnectionId, option: confirmation.option, data: confirmation.data }) : null,
    ]);
  }

  /**
   * One line per outcome, whichever way it came; a timeout says which decision it took, an
   * answer which connection gave it.
   */
  private logOutcome(confirmation: Confirmation, state: SettledState, decisionSeconds: number, connectionId?: string): void {
    if (!infoLogged()) return;
    const { callbackId, userId, taskId } = confirmation;
    const decision = state === 'timed_out' ? `; decision: ${confirmation.proceed ? 'proceed' : 'reject'}` : '';
    this.logger.log(
      { callbackId, userId, taskId, state, decisionSeconds, connectionId },
      `Confirmation ${callbackId} ${state} (user ${userId}, task ${taskId}, after ${decisionSeconds} s${decision})`,
    );
  }

  private wakeWaiters(event: ResolutionEvent): void {
    const waiting = this.waiters.get(event.callbackId);
    if (!waiting) {
      if (event.fromElsewhere) this.earlyWakeUps.set(event.callbackId, Date.now());
      return;
    }
    if (event.confirmation) {
      // Its instance announced it after its own fence passed.
      this.replicated.add(event.confirmation);
      this.wakeAll(event.callbackId, event.confirmation);
      return;
    }
    this.wakeFromStore(event.callbackId);
  }

  /** Woken without the record (a lost or early wake-up): what is stored is the decision. */
  private wakeFromStore(callbackId: string): void {
    void this.store.get(callbackId).then(
      (confirmation) => {
        if (confirmation?.state !== 'pending') this.wakeAll(callbackId, confirmation);
      },
      () => undefined,
    );
  }

  private wakeAll(callbackId: string, confirmation: Confirmation | undefined): void {
    for (const wake of [...(this.waiters.get(callbackId) ?? [])]) wake(confirmation);
  }

  /** Pub/sub may drop a wake-up: waiting callers re-read what is stored. */
  private async recheckWaiters(): Promise<void> {
    // An early wake-up whose caller never came (it went away, or create failed after registering).
    const stale = Date.now() - WAITER_RECHECK_MS;
    for (const [callbackId, at] of this.earlyWakeUps) if (at < stale) this.earlyWakeUps.delete(callbackId);
    const callbackIds = [...this.waiters.keys()];
    if (callbackIds.length === 0) return;
    let latest: Array<Confirmation | undefined>;
    try {
      // Concurrent reads: the Redis store's calls go out pipelined, one batch per step.
      latest = await Promise.all(callbackIds.map((callbackId) => this.store.get(callbackId)));
    } catch {
      return; // Redis away: the next recheck (or the reconnect) tries again.
    }
    callbackIds.forEach((callbackId, i) => {
      if (latest[i]?.state !== 'pending') this.wakeAll(callbackId, latest[i]);
    });
  }

  private async finishWithLatest(callbackId: string, finish: (c?: Confirmation) => void): Promise<void> {
    try {
      finish(await this.store.get(callbackId));
    } catch {
      finish();
    }
  }
}

/** The job kind (and name) of a confirmation's reminders. */
const REMINDER = 'reminder';
/** The job kind of an escalation step (named `escalation:<index>`). */
const ESCALATION = 'escalation';

function clearExpiryTimer(timer: NodeJS.Timeout | LongTimer): void {
  if ('cancel' in timer) timer.cancel();
  else clearTimeout(timer);
}

/** Until when a confirmation's action links work (never past its expiry), and their nonce. */
function linkGrant(asked: NonNullable<NewConfirmation['links']>, now: number, expiresAt: number): LinkGrant {
  const until = asked.expiresInSeconds === undefined ? expiresAt : Math.min(expiresAt, now + asked.expiresInSeconds * 1000);
  return { expiresAt: until, nonce: newLinkNonce() };
}

/** The user's connections and every approver's: the listed users' and the listed groups' members. */
function audienceOf(confirmation: Confirmation): Audience {
  const approvers = confirmation.approval?.approvers;
  if (!approvers) return { userIds: [confirmation.userId] };
  const userIds = approvers.users.includes(confirmation.userId) ? approvers.users : [confirmation.userId, ...approvers.users];
  return approvers.groups.length > 0 ? { userIds, groupIds: approvers.groups } : { userIds };
}

function invalidAnswer(field: string, message: string): GatewayError {
  return new GatewayError(ErrorCode.InvalidAnswer, message, undefined, field);
}

/** The answer as a vote: its option decides `proceed`, its data fits the form (with the form's defaults for what it leaves out). */
function ballotOf(confirmation: Confirmation, proceed: boolean, feedback: string | null, details: AnswerDetails): Ballot {
  const approval = confirmation.approval;
  let option: string | null = null;
  if (details.option !== undefined) {
    const options = approval?.options;
    if (!options) throw invalidAnswer('option', `Confirmation ${confirmation.callbackId} has no options`);
    const chosen = options.find((o) => o.id === details.option);
    if (!chosen) throw invalidAnswer('option', `option ${details.option} is not one of: ${options.map((o) => o.id).join(', ')}`);
    if (details.proceedGiven && proceed !== chosen.proceed) throw invalidAnswer('proceed', `proceed ${proceed} contradicts option ${chosen.id} (proceed ${chosen.proceed})`);
    option = chosen.id;
    proceed = chosen.proceed;
  }
  let data: Record<string, unknown> | null = null;
  // Data on a declining answer is ignored; without a form there is nothing to fill.
  if (proceed && approval?.form) {
    if (details.data === undefined) throw invalidAnswer('data', 'data is required: this prompt has a form (its defaults are the proposed values)');
    const checked = checkFormData(approval.form, details.data);
    if ('problem' in checked) throw invalidAnswer(checked.problem.field, checked.problem.message);
    data = checked.data;
  }
  return { proceed, option, data, feedback };
}

function notFound(callbackId: string): GatewayError {
  return new GatewayError(ErrorCode.CallbackNotFound, `No confirmation with callback_id ${callbackId}`);
}

function shuttingDown(): GatewayError {
  return new GatewayError(ErrorCode.Unavailable, 'Shutting down; retry with the same callback_id', 1);
}

const COUNTER_OF: Record<SettledState, 'confirmed' | 'rejected' | 'timedOut' | 'cancelled'> = {
  confirmed: 'confirmed',
  rejected: 'rejected',
  timed_out: 'timedOut',
  cancelled: 'cancelled',
};
