export { GatewayClient } from './client.js';
export type { ConnectionState, GatewayClientEvents, GatewayClientOptions, Notice, StateChange, WebSocketImplementation } from './client.js';
export { backoffDelay, DEFAULT_BASE_DELAY_MS, DEFAULT_MAX_DELAY_MS } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { GatewayRequestError } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export type { Prompt, PromptResolution } from './prompts.js';
export * from './protocol.js';
