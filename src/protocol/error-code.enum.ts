/** Stable, machine-readable codes carried by `error` frames and REST error bodies. */
export enum ErrorCode {
  InvalidJson = 'invalid_json',
  InvalidMessage = 'invalid_message',
  UnknownAction = 'unknown_action',
  CallbackNotFound = 'callback_not_found',
  AlreadyResolved = 'already_resolved',
  CallbackConflict = 'callback_conflict',
  Forbidden = 'forbidden',
  IdentityRequired = 'identity_required',
  NotFound = 'not_found',
  TaskCancelled = 'task_cancelled',
  RateLimited = 'rate_limited',
  TooManyPending = 'too_many_pending',
  CapacityExceeded = 'capacity_exceeded',
  Unauthorized = 'unauthorized',
  Unavailable = 'unavailable',
  UnsupportedMediaType = 'unsupported_media_type',
  PayloadTooLarge = 'payload_too_large',
  InternalError = 'internal_error',
  MessageNotFound = 'message_not_found',
  MessageExpired = 'message_expired',
  ResumeInProgress = 'resume_in_progress',
  /** A request field is wrong in a way the DTO cannot say (e.g. a `form` outside the supported subset). */
  ValidationFailed = 'validation_failed',
  /** An answer's `option` or `data` does not fit the prompt; the error's `field` names what. */
  InvalidAnswer = 'invalid_answer',
  NotAnApprover = 'not_an_approver',
  SelfApprovalForbidden = 'self_approval_forbidden',
  AlreadyVoted = 'already_voted',
}

const HTTP_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.InvalidJson]: 400,
  [ErrorCode.InvalidMessage]: 400,
  [ErrorCode.UnknownAction]: 400,
  [ErrorCode.CallbackNotFound]: 404,
  [ErrorCode.AlreadyResolved]: 409,
  [ErrorCode.CallbackConflict]: 409,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.IdentityRequired]: 401,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.TaskCancelled]: 409,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.TooManyPending]: 429,
  [ErrorCode.CapacityExceeded]: 429,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.InternalError]: 500,
  [ErrorCode.MessageNotFound]: 404,
  [ErrorCode.MessageExpired]: 410,
  [ErrorCode.ResumeInProgress]: 409,
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.InvalidAnswer]: 400,
  [ErrorCode.NotAnApprover]: 403,
  [ErrorCode.SelfApprovalForbidden]: 403,
  [ErrorCode.AlreadyVoted]: 409,
};

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.InvalidMessage,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.RateLimited,
  503: ErrorCode.Unavailable,
};

/** The code for an HTTP status that did not come from a GatewayError (framework errors). */
export function codeOfHttpStatus(status: number): string {
  return CODE_OF_STATUS[status] ?? `http_${status}`;
}

/**
 * An expected failure with a protocol code. Services throw it; the socket error filter
 * turns it into an `error` frame and the HTTP filter into a 4xx body.
 */
export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** For 429s: when the caller may try again. */
    readonly retryAfterSeconds?: number,
    /** With `invalid_answer`: the field that is wrong (the error frame's `field`). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}
