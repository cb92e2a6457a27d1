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
  ) {
    super(message);
    this.name = 'GatewayRequestError';
  }
}
