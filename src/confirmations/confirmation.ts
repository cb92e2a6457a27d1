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
  /** Which of API_KEYS the request came with (`key-1`...), for the audit trail; never the key. */
  apiKeyId?: string;
  /** Who asked on the task service's side, when the request names them (audit trail). */
  requestedBy?: string;
  /** Where this confirmation's webhooks go (instead of WEBHOOK_DEFAULT_URL). */
  callbackUrl?: string;
  /** The caller's JSON object, echoed in the webhooks and the REST view. */
  metadata?: Record<string, unknown>;
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
  /**
   * Where the confirmation was created in a trace (`traceparent`, then `tracestate` after a
   * newline when there is one): present only while tracing is on, so the answer, on
   * whichever instance, continues the caller's trace (src/tracing/).
   */
  traceContext?: string;
  /** Only on confirmations asked with a callback_url: a plain one has no such key. */
  readonly callbackUrl?: string;
  /** Only on confirmations asked with metadata; frozen, as every copy of a record shares it. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** The webhook fields of a request, added to a draft only when the caller gave them. */
export function withWebhookFields(draft: Confirmation, input: Pick<NewConfirmation, 'callbackUrl' | 'metadata'>): Confirmation {
  const fields: { callbackUrl?: string; metadata?: Readonly<Record<string, unknown>> } = {};
  if (input.callbackUrl !== undefined) fields.callbackUrl = input.callbackUrl;
  if (input.metadata !== undefined) fields.metadata = deepFreeze(structuredClone(input.metadata));
  return { ...draft, ...fields };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
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
    ...(c.metadata !== undefined && { metadata: c.metadata }),
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
