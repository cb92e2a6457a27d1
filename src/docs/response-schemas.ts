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

/** `links` (only when the prompt asked for action links): one per approver and choice. */
const ActionLinksSchema: SchemaObject = {
  type: 'array',
  description: 'Only when the prompt asked for `links`: for each approver and each choice, a one-click link to send them (docs/PROTOCOL.md, action links)',
  items: object({
    approver: id,
    choice: { type: 'string', description: '`proceed` or `reject` (a prompt without options), else an option id' },
    proceed: { type: 'boolean', description: 'Whether following it lets the task proceed' },
    url: { type: 'string', description: '<PUBLIC_BASE_URL>/a/<token>: a capability, keep it as private as the approver\'s mail' },
    expires_at: epoch,
  }),
};

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
DecisionSchema.properties!.links = ActionLinksSchema;

export const PendingConfirmationSchema = object(
  {
    callback_id: id,
    state: { type: 'string', enum: ['pending'] },
    status: { type: 'string', enum: ['pending'], deprecated: true, description: 'Deprecated alias of state, kept for older callers: read state' },
    expires_at: epoch,
  },
  '`wait=false`: the confirmation was delivered; poll GET /confirmations/{callback_id} for the decision.',
);
PendingConfirmationSchema.properties!.links = ActionLinksSchema;

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
(ConfirmationViewSchema.properties as Record<string, SchemaObject>).metadata = {
  type: 'object',
  description: 'The metadata given to POST /notify; absent when none was',
};

export const WebhookDeliveriesSchema = object(
  {
    callback_id: id,
    attempts: {
      type: 'array',
      items: object({
        webhook_id: { type: 'string', description: 'The webhook-id header: the same on every attempt of one event' },
        event: { type: 'string', enum: ['decision', 'reminder_due', 'escalated'] },
        attempt: { type: 'integer', minimum: 1 },
        at: epoch,
        status_code: nullable({ type: 'integer' }),
        error: nullable({ type: 'string' }),
        latency_ms: { type: 'integer', minimum: 0 },
        outcome: { type: 'string', enum: ['delivered', 'retrying', 'gone', 'given_up'] },
        next_attempt_at: nullable(epoch),
      }),
    },
  },
  "The confirmation's webhook attempts, oldest first (the latest 50)",
);

ConfirmationViewSchema.properties!.links = ActionLinksSchema;

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

/** One audit event (docs/AUDIT.md lists the kinds and their details). */
export const AuditEventSchema = object(
  {
    event_id: { type: 'string', description: 'Unique per event' },
    kind: { type: 'string', description: 'created, delivered, answered, settled, reminder, escalated, link_opened, link_used, webhook_attempt, or a kind another feature adds (docs/AUDIT.md)', examples: ['created', 'delivered', 'answered', 'settled'] },
    callback_id: id,
    user_id: { ...id, description: "The confirmation's user (who answered is in details.answered_by)" },
    task_id: id,
    at: epoch,
    instance_id: { type: 'string', description: 'The instance that recorded it' },
    details: { type: 'object', description: "The kind's fields (docs/AUDIT.md); never an API key, only its place in API_KEYS (api_key_id: key-1 ...)" },
  },
  'One thing that happened to a confirmation. Append-only: kept AUDIT_RETENTION_DAYS.',
);

export const ConfirmationTrailSchema = object({
  callback_id: id,
  events: { type: 'array', items: AuditEventSchema, description: 'In the order they happened; empty for an unknown id, or one whose events are past retention' },
});

export const AuditPageSchema = object({
  events: { type: 'array', items: AuditEventSchema, description: 'In the order written, at most `limit`; may be fewer while more follow' },
  next_cursor: nullable({ type: 'string', description: 'Pass as `cursor` for the next page; null when nothing more was there' }),
});
