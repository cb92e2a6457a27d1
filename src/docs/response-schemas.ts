import type { SchemaObject } from '@nestjs/swagger';
import { MAX_ID_LENGTH } from '../protocol/client-frames.js';
import { GATEWAY_SUBPROTOCOL } from '../protocol/subprotocol.js';

/**
 * The JSON Schemas of the REST responses, for the OpenAPI document. Request bodies are
 * derived from their DTOs (dto-schema.ts); responses are built by plain functions, so
 * they are written here, next to nothing else, and test/api-docs.e2e-spec.ts checks
 * real responses against them.
 */

const id: SchemaObject = { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH };
const epoch: SchemaObject = { type: 'number', description: 'Unix epoch seconds, millisecond precision' };
const nullable = (schema: SchemaObject): SchemaObject => ({ anyOf: [schema, { type: 'null' }] });
const object = (properties: Record<string, SchemaObject>, description?: string): SchemaObject => ({
  type: 'object',
  ...(description && { description }),
  properties,
  required: Object.keys(properties),
});

export const CONFIRMATION_STATES = ['pending', 'confirmed', 'rejected', 'timed_out', 'cancelled'];

/** The approval fields of a decision and a view (issue 21): only on a confirmation with approvals. */
const approvalOutcome: Record<string, SchemaObject> = {
  option: nullable({ type: 'string', description: 'The option chosen (a prompt with options)' }),
  data: nullable({ type: 'object', additionalProperties: true, description: 'The form data of the settling answer (a prompt with a form)' }),
  decided_by: nullable({ ...id, description: 'The user whose answer or vote settled it; null for a timeout or a cancellation' }),
  votes: {
    type: 'array',
    description: 'The votes (several approvers); [] when none',
    items: object({ user_id: id, proceed: { type: 'boolean' }, option: nullable({ type: 'string' }), at: epoch }),
  },
};

export const DecisionSchema = object(
  {
    callback_id: id,
    state: { type: 'string', enum: CONFIRMATION_STATES.filter((s) => s !== 'pending') },
    proceed: { type: 'boolean' },
    feedback: nullable({ type: 'string' }),
    timed_out: { type: 'boolean' },
    cancelled: { type: 'boolean' },
  },
  'The decision, once the user answered, the confirmation timed out or its task was cancelled.',
);

export const PendingConfirmationSchema = object(
  {
    callback_id: id,
    state: { type: 'string', enum: ['pending'] },
    status: { type: 'string', enum: ['pending'], deprecated: true, description: 'Deprecated alias of state, kept for older callers: read state' },
    expires_at: epoch,
  },
  '`wait=false`: the confirmation was delivered; poll GET /confirmations/{callback_id} for the decision.',
);

export const ConfirmationViewSchema = object({
  callback_id: id,
  user_id: id,
  task_id: id,
  step: { type: 'integer', minimum: 0 },
  step_name: { type: 'string' },
  message: { type: 'string' },
  state: { type: 'string', enum: CONFIRMATION_STATES },
  proceed: nullable({ type: 'boolean' }),
  feedback: nullable({ type: 'string' }),
  timed_out: { type: 'boolean' },
  cancelled: { type: 'boolean' },
  created_at: epoch,
  expires_at: epoch,
  settled_at: nullable(epoch),
});

/** Optional fields: present on a confirmation with approvals (issue 21), absent on a plain one. */
for (const schema of [DecisionSchema, ConfirmationViewSchema]) Object.assign(schema.properties as object, approvalOutcome);

export const HeartbeatViewSchema = object({
  heartbeat_id: { type: 'string' },
  user_id: id,
  task_id: id,
  interval_seconds: { type: 'number' },
  message: { type: 'string' },
  beats: { type: 'integer', minimum: 0 },
  started_at: epoch,
  ends_at: epoch,
});

export const TaskViewSchema = object({
  task_id: id,
  cancelled: { type: 'boolean' },
  cancelled_at: nullable(epoch),
  cancelled_by: nullable(id),
  pending_confirmations: { type: 'array', items: ConfirmationViewSchema },
  heartbeat: nullable(HeartbeatViewSchema),
});

export const GrantSchema = object({ task_id: id, user_id: id, expires_at: epoch });

export const AckViewSchema = object(
  {
    message_id: { type: 'string' },
    user_id: nullable(id),
    task_id: nullable(id),
    state: { type: 'string', enum: ['pending', 'acknowledged', 'expired'] },
    acknowledged: { type: 'boolean' },
    acked_by: nullable(id),
    acked_at: nullable(epoch),
    created_at: epoch,
    expires_at: epoch,
  },
  'A message sent with requires_ack: for a user (user_id) or for any subscriber of a task (task_id), and who acknowledged it when.',
);

export const DeliveredSchema = object({ delivered: { type: 'integer', minimum: 0, description: 'Connections the message was written to' } });

/** A caller's message: the delivery count, plus the message's ack state when it was sent with requires_ack. */
export const MessageDeliveredSchema: SchemaObject = {
  anyOf: [
    DeliveredSchema,
    { ...AckViewSchema, properties: { ...DeliveredSchema.properties, ...AckViewSchema.properties }, required: [...(DeliveredSchema.required ?? []), ...(AckViewSchema.required ?? [])] },
  ],
};

export const AnyJsonObjectSchema: SchemaObject = {
  type: 'object',
  additionalProperties: true,
  description: 'Any JSON object; it reaches the clients as it is (plus the target field the route adds).',
};

const counter: SchemaObject = { type: 'integer', minimum: 0 };

export const StatusSchema: SchemaObject = {
  type: 'object',
  required: ['running', 'active_connections', 'pending_callbacks', 'total_connections', 'timestamp'],
  properties: {
    running: { type: 'boolean' },
    host: nullable({ type: 'string' }),
    port: nullable({ type: 'integer' }),
    active_connections: counter,
    pending_callbacks: counter,
    total_connections: counter,
    failed_connections: counter,
    refused_connections: { type: 'object', additionalProperties: counter, description: 'Connections refused, by reason' },
    reaped_connections: counter,
    messages_sent: counter,
    messages_failed: counter,
    slow_consumers_closed: counter,
    rate_limited_frames: counter,
    flood_closed: counter,
    forbidden_frames: counter,
    error_frames: { type: 'object', additionalProperties: counter, description: 'Error frames sent, by code' },
    confirmations: {
      type: 'object',
      properties: { created: counter, confirmed: counter, rejected: counter, timed_out: counter, cancelled: counter },
    },
    active_heartbeats: counter,
    uptime_seconds: { type: 'number' },
    timestamp: epoch,
  },
};

const ConnectionViewSchema = object({
  connection_id: id,
  user_id: nullable(id),
  instance: { type: 'string', description: 'The instance holding the socket' },
  connected_since: epoch,
  rtt_ms: nullable({ type: 'number', description: 'Last keepalive round trip; null until one was answered' }),
  frames_in: counter,
  frames_out: counter,
  bytes_buffered: counter,
  protocol: nullable({ type: 'string', enum: [GATEWAY_SUBPROTOCOL], description: 'The selected subprotocol: gateway.v1 when the client offered it, else null (a token subprotocol is never selected)' }),
  compression: nullable({ type: 'string', enum: ['permessage-deflate'] }),
  subscribed_tasks: { type: 'array', items: id },
});

export const ConnectionListingSchema = object({
  instance: { type: 'string', description: 'The instance that answered this request' },
  instances: { type: 'array', items: { type: 'string' }, description: 'Instances whose connections are listed' },
  unreachable: { type: 'array', items: { type: 'string' }, description: 'Instances alive by the registry that did not answer within a second: their connections are missing' },
  count: counter,
  truncated: { type: 'boolean', description: 'More connections than `limit`: the list is not complete' },
  connections: { type: 'array', items: ConnectionViewSchema },
});
