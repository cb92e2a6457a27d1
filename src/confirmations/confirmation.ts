import type { ApprovalOption, ApprovalPolicy, ConfirmationState, FormSchema, StepResult, TaskStepResultFrame, VoteView } from '../protocol/server-frames.js';
import { epochSeconds } from '../protocol/server-frames.js';

export interface NewConfirmation {
  userId: string;
  taskId: string;
  step: number;
  stepResult: StepResult;
  timeoutSeconds?: number;
  /** Caller-chosen id: repeating a request with it returns the same confirmation. */
  callbackId?: string;
  /** When the request was accepted (epoch ms), for the delivery latency of the prompt. */
  acceptedAt?: number;
  /** The HTTP request that asked (its X-Request-Id), for the log line. */
  requestId?: string;
  /** The prompt again every `everySeconds`, at most `max` times, while pending. */
  reminders?: { everySeconds: number; max: number };
  /** Approvers added `afterSeconds` after creation while it is pending. */
  escalation?: Array<{ afterSeconds: number; users: string[]; groups: string[] }>;
  /** Options, a form, several approvers: absent for a plain yes/no prompt of its user. */
  approval?: Approval;
  /** Who asked (POST /notify requested_by), for the created event. */
  requestedBy?: string;
}

/**
 * What a prompt asks beyond yes/no (issue 21): choices, a form, who may answer and how
 * several answers decide. A plain confirmation has none, and takes the original path.
 */
export interface Approval {
  options?: ApprovalOption[];
  form?: FormSchema;
  /** Exactly who may answer; absent: only the confirmation's user. */
  approvers?: { users: string[]; groups: string[] };
  policy: ApprovalPolicy;
  /** With policy `quorum`: approvals that confirm. */
  quorum?: number;
  /** The user who asked, who may not vote (forbid_self). */
  forbiddenVoter?: string;
}

/** One approver's vote, as stored. */
export interface Vote {
  userId: string;
  proceed: boolean;
  option: string | null;
  /** Epoch ms. */
  at: number;
}

export interface Confirmation {
  readonly callbackId: string;
  readonly userId: string;
  readonly taskId: string;
  readonly step: number;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly stepName: string;
  readonly message: string;
  /**
   * Built once: the same frame goes to every connection and every reconnect. Dropped when
   * the confirmation settles, so retained decisions do not keep the step's result.
   */
  frame: TaskStepResultFrame | null;
  state: ConfirmationState;
  proceed: boolean | null;
  feedback: string | null;
  settledAt: number | null;
  /** Present only on a confirmation with approvals (see Approval). */
  approval?: Approval;
  /** The votes so far (approvals only). */
  votes?: Vote[];
  /** The chosen option, the form's data and who settled it (approvals only; set when it settles). */
  option?: string | null;
  data?: Record<string, unknown> | null;
  decidedBy?: string | null;
}

/** The decision as a waiting task service receives it. */
export interface Decision {
  callback_id: string;
  state: ConfirmationState;
  proceed: boolean;
  feedback: string | null;
  timed_out: boolean;
  cancelled: boolean;
  /**
   * On a confirmation with approvals (options, form, approvers, policy) only, so a plain
   * decision stays exactly as it was: the option chosen, else null.
   */
  option?: string | null;
  /** The form's data of the settling answer (a prompt with a form that proceeded), else null. */
  data?: Record<string, unknown> | null;
  /** The user whose answer or vote settled it; null for a timeout or a cancellation. */
  decided_by?: string | null;
  /** The votes (several approvers); [] when none. */
  votes?: VoteView[];
}

/** The approval fields of a decision or view: only for a confirmation with approvals. */
function approvalOutcome(c: Confirmation): Pick<Decision, 'option' | 'data' | 'decided_by' | 'votes'> | undefined {
  if (!c.approval) return undefined;
  return { option: c.option ?? null, data: c.data ?? null, decided_by: decidedByOf(c), votes: voteViews(c.votes) };
}

/** Who settled it: recorded for approvals; for a plain answer, its one user. */
export function decidedByOf(c: Confirmation): string | null {
  if (c.decidedBy !== undefined) return c.decidedBy;
  return c.state === 'confirmed' || c.state === 'rejected' ? c.userId : null;
}

export function voteViews(votes: readonly Vote[] | undefined): VoteView[] {
  return (votes ?? []).map((v) => ({ user_id: v.userId, proceed: v.proceed, option: v.option, at: epochSeconds(v.at) }));
}

export function toDecision(c: Confirmation): Decision {
  return {
    callback_id: c.callbackId,
    state: c.state,
    proceed: c.proceed ?? false,
    feedback: c.feedback,
    timed_out: c.state === 'timed_out',
    cancelled: c.state === 'cancelled',
    ...approvalOutcome(c),
  };
}

/** The full public view of a confirmation (REST). */
export function toView(c: Confirmation) {
  return {
    callback_id: c.callbackId,
    user_id: c.userId,
    task_id: c.taskId,
    step: c.step,
    step_name: c.stepName,
    message: c.message,
    state: c.state,
    proceed: c.proceed,
    feedback: c.feedback,
    timed_out: c.state === 'timed_out',
    cancelled: c.state === 'cancelled',
    created_at: epochSeconds(c.createdAt),
    expires_at: epochSeconds(c.expiresAt),
    settled_at: c.settledAt === null ? null : epochSeconds(c.settledAt),
    ...approvalOutcome(c),
  };
}

export function buildStepResultFrame(
  callbackId: string,
  input: NewConfirmation,
  now: number,
  expiresAt: number,
): TaskStepResultFrame {
  const r = input.stepResult;
  return {
    type: 'task_step_result',
    callback_id: callbackId,
    step: input.step,
    step_name: r.step,
    message: r.message,
    result: r.result ?? null,
    status: r.status,
    completed: r.completed ?? false,
    error_code: r.error_code ?? null,
    error_message: r.error_message ?? null,
    user_id: input.userId,
    task_id: input.taskId,
    timestamp: epochSeconds(now),
    expires_at: epochSeconds(expiresAt),
    ...(input.approval && approvalFields(input.approval)),
  };
}

/** The prompt's approval fields, only those set. */
function approvalFields(a: Approval): Partial<TaskStepResultFrame> {
  const fields: Partial<TaskStepResultFrame> = {};
  if (a.options) fields.options = a.options;
  if (a.form) fields.form = a.form;
  if (a.approvers) fields.approvers = a.approvers;
  if (a.approvers || a.policy !== 'any') fields.policy = a.policy;
  if (a.quorum !== undefined) fields.quorum = a.quorum;
  return fields;
}
