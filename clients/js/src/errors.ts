import type { ErrorCode } from './protocol.js';

/**
 * Codes the client itself gives a failed request, besides the server's error codes:
 * `not_connected` (sent while not connected), `disconnected` (the connection dropped before
 * the reply), `timeout` (no reply in time; the client reconnects), `closed` (client stopped).
 */
export type ClientErrorCode = 'not_connected' | 'disconnected' | 'timeout' | 'closed';

/** A request (answer, cancel, subscribe...) that failed; `code` says why. */
export class GatewayRequestError extends Error {
  constructor(
    readonly code: `${ErrorCode}` | ClientErrorCode,
    message: string,
    /** The action that failed: `confirm`, `cancel`, `subscribe`, `unsubscribe` or `ping`. */
    readonly action: string,
    /** The error frame's `field`, when the server named what was wrong (a form field, `option`, `data`...). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'GatewayRequestError';
  }
}

/**
 * The server refused an answer's `option` or `data` (`invalid_answer`): nothing was settled,
 * the prompt is still pending. `field` names the form field (or `option`, `data`, `proceed`)
 * and `message` says why, ready to show next to that field.
 */
export class InvalidAnswerError extends GatewayRequestError {
  declare readonly code: 'invalid_answer';

  constructor(message: string, field: string | undefined) {
    super('invalid_answer', message, 'confirm', field);
    this.name = 'InvalidAnswerError';
  }
}

/** The user may not answer this prompt: not an approver, the requester under `forbid_self`, or a second vote. */
export class ApprovalRefusedError extends GatewayRequestError {
  declare readonly code: 'not_an_approver' | 'self_approval_forbidden' | 'already_voted';

  constructor(code: 'not_an_approver' | 'self_approval_forbidden' | 'already_voted', message: string) {
    super(code, message, 'confirm');
    this.name = 'ApprovalRefusedError';
  }
}

/** The typed error for an `error` frame that answers a request. */
export function requestErrorOf(code: `${ErrorCode}`, message: string, action: string, field?: string): GatewayRequestError {
  if (action === 'confirm' && code === 'invalid_answer') return new InvalidAnswerError(message, field);
  if (action === 'confirm' && (code === 'not_an_approver' || code === 'self_approval_forbidden' || code === 'already_voted')) {
    return new ApprovalRefusedError(code, message);
  }
  return new GatewayRequestError(code, message, action, field);
}
