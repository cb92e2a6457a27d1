/** WebSocket close codes the server uses. */
export enum CloseCode {
  /** Server shutting down. */
  GoingAway = 1001,
  /** A text frame that is not valid UTF-8 (closed by the ws library). */
  InvalidPayload = 1007,
  /** Sustained flooding beyond the rate limit. */
  PolicyViolation = 1008,
  /** Frame larger than WEBSOCKET_MAX_MESSAGE_BYTES. */
  MessageTooBig = 1009,
  /** Server at WEBSOCKET_MAX_CONNECTIONS or WEBSOCKET_MAX_CONCURRENT_HANDSHAKES, or the client stopped reading (slow consumer): reconnect after a back-off. */
  TryAgainLater = 1013,
  /** The token's `exp` passed: reconnect with a fresh token. */
  TokenExpired = 4001,
  /**
   * A browser's credentials were refused (missing or invalid token): do not come back with
   * the same ones. Browsers cannot read an HTTP 401 on an upgrade, so they get this close
   * right after the handshake instead; other clients get the 401.
   */
  Unauthorized = 4003,
  /** The user opened more than WEBSOCKET_MAX_CONNECTIONS_PER_USER; this, their oldest, was closed. */
  ReplacedByNewerConnection = 4008,
}

/**
 * A 1013 close's reason may end with `retry after <ms> ms`: how long the server asks the
 * client to stay away (a handshake refused in a reconnect storm, PROTOCOL.md 1.3).
 */
export function retryAfterReason(reason: string, retryAfterMs: number): string {
  return `${reason}; retry after ${Math.round(retryAfterMs)} ms`;
}

/** The wait a close reason asks for, in ms; undefined when it asks for none. */
export function retryAfterOf(reason: string): number | undefined {
  const match = /retry after (\d{1,6}) ms$/.exec(reason);
  return match ? Number(match[1]) : undefined;
}
