import type { ConfirmationState, StepResult, TaskStepResultFrame } from '../protocol/server-frames.js';
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
}

/** The decision as a waiting task service receives it. */
export interface Decision {
  callback_id: string;
  state: ConfirmationState;
  proceed: boolean;
  feedback: string | null;
  timed_out: boolean;
  cancelled: boolean;
}

export function toDecision(c: Confirmation): Decision {
  return {
    callback_id: c.callbackId,
    state: c.state,
    proceed: c.proceed ?? false,
    feedback: c.feedback,
    timed_out: c.state === 'timed_out',
    cancelled: c.state === 'cancelled',
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
  };
}
