/**
 * The WebSocket subprotocol the gateway selects when a client offers it. Browsers cannot
 * set headers on a WebSocket, so a token rides beside it as `bearer.<jwt>`; that one is
 * read, never selected, so the token is never echoed or listed.
 */
export const GATEWAY_SUBPROTOCOL = 'gateway.v1';

/** The prefix of the subprotocol that carries a token in `AUTH_MODE=jwt`. */
export const TOKEN_SUBPROTOCOL_PREFIX = 'bearer.';
