export { GatewayClient } from './client.js';
export type { ConnectionState, GatewayClientEvents, GatewayClientOptions, Notice, StateChange, WebSocketImplementation } from './client.js';
export { backoffDelay, DEFAULT_BASE_DELAY_MS, DEFAULT_MAX_DELAY_MS } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { ApprovalRefusedError, GatewayRequestError, InvalidAnswerError } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export type { AnswerInput, Prompt, PromptReminder, PromptResolution, PromptVote } from './prompts.js';
export * from './protocol.js';
