import type { OpenAPIObject, OperationObject } from '@nestjs/swagger';

/**
 * What the OpenAPI document says about each operation beyond its schemas: a summary, and
 * examples of the bodies the design document's use cases send (its section 4: a data
 * validation step with five failed rows, a failed training step with error E003, a
 * maintenance notice, a progress update, a 30-second heartbeat) and of what comes back.
 * Without them Swagger UI makes up an example from the schema's limits, such as a
 * `timeout_seconds` of 0.05. test/api-docs.e2e-spec.ts sends every request example to the
 * app and checks each example against its schema.
 */

interface OperationDocs {
  summary: string;
  /** Named request body examples. */
  requests?: Record<string, { summary: string; value: unknown }>;
  /** Example response bodies by status. */
  responses?: Record<string, unknown>;
  /** Example values of path parameters. */
  parameters?: Record<string, string>;
}

const DATA_VALIDATION = {
  user_id: 'user_123',
  task_id: 'task_456',
  step: 1,
  step_result: {
    step: 'data_validation',
    result: { validated_rows: 1000, errors: 5 },
    completed: true,
    message: '数据验证完成，发现5个错误',
    status: 'completed',
  },
  timeout_seconds: 600,
  callback_id: 'task_456.step-1',
};


const MODEL_TRAINING_FAILED = {
  user_id: 'user_123',
  task_id: 'task_789',
  step: 2,
  step_result: {
    step: 'model_training',
    result: null,
    completed: false,
    message: '模型训练失败，是否重试？',
    status: 'failed',
    error_code: 'E003',
    error_message: 'GPU 内存不足',
  },
};

const WITH_WEBHOOK = {
  ...MODEL_TRAINING_FAILED,
  callback_url: 'https://tasks.example.com/hooks/confirmations',
  metadata: { run_id: 'run-2024-118', retry_budget: 2 },
};

const CONFIRMATION_VIEW = {
  callback_id: 'task_456.step-1',
  user_id: 'user_123',
  task_id: 'task_456',
  step: 1,
  step_name: 'data_validation',
  message: '数据验证完成，发现5个错误',
  state: 'confirmed',
  proceed: true,
  feedback: '同意继续执行',
  timed_out: false,
  cancelled: false,
  created_at: 1764000000.125,
  expires_at: 1764000600.125,
  settled_at: 1764000042.5,
};

const HEARTBEAT_VIEW = {
  heartbeat_id: 'c2364b1e-8f0a-4d3b-9a57-1e2f3a4b5c6d',
  user_id: 'user_123',
  task_id: 'task_456',
  interval_seconds: 30,
  message: 'task still running...',
  beats: 1,
  started_at: 1764000000.125,
  ends_at: 1764003600.125,
};

const MAINTENANCE_NOTICE = { type: 'system_notification', message: '系统将在5分钟后进行维护', timestamp: 1764000000.0, severity: 'warning' };
const TASK_PROGRESS = { type: 'task_progress', task_id: 'task_123', progress: 75, message: '任务执行进度 75%', timestamp: 1764000000.0 };

const EXAMPLE_EVENT_IDS: Record<string, string> = {
  created: '0b1e6c2a-4d5f-4a8b-9c3d-2e1f0a9b8c7d',
  delivered: '7c2d9e41-1a3b-4f6c-8d2e-5b4a3c2d1e0f',
  answered: '4f0c8e2a-3b1d-4c5e-9f6a-7b8c9d0e1f2a',
  settled: 'd8e7f6a5-b4c3-4d2e-9f1a-0b9c8d7e6f5a',
};

/** An audit event of the examples (docs/AUDIT.md). */
function auditEvent(kind: string, at: number, instance: string, details: Record<string, unknown>) {
  return {
    event_id: EXAMPLE_EVENT_IDS[kind],
    kind,
    callback_id: 'task_456.step-1',
    user_id: 'user_123',
    task_id: 'task_456',
    at,
    instance_id: `${instance}-6d2a-4c1b-8e3f-0a9b8c7d6e5f`,
    details,
  };
}

export const OPERATION_DOCS: Record<string, OperationDocs> = {
  'POST /notify': {
    summary: 'Ask a user to confirm a task step, and wait for the decision',
    requests: {
      data_validation: { summary: 'A finished step with five failed rows (design document, section 4.2)', value: DATA_VALIDATION },
      model_training_failed: { summary: 'A failed step: retry or cancel? (design document, section 4.2)', value: MODEL_TRAINING_FAILED },
      with_webhook: { summary: 'The decision also sent to a webhook, with metadata echoed back (docs/WEBHOOKS.md)', value: WITH_WEBHOOK },
    },
    responses: {
      200: { callback_id: 'task_456.step-1', state: 'confirmed', proceed: true, feedback: '同意继续执行', timed_out: false, cancelled: false },
      202: { callback_id: 'task_456.step-1', state: 'pending', status: 'pending', expires_at: 1764000600.125 },
    },
  },
  'GET /confirmations/{callback_id}': {
    summary: 'Read a confirmation, or long-poll until it is decided',
    parameters: { callback_id: 'task_456.step-1' },
    responses: { 200: CONFIRMATION_VIEW },
  },
  'GET /confirmations/{callback_id}/events': {
    summary: "A confirmation's audit trail: created, delivered, answered, settled, in the order they happened",
    parameters: { callback_id: 'task_456.step-1' },
    responses: {
      200: {
        callback_id: 'task_456.step-1',
        events: [
          auditEvent('created', 1764000000.125, 'f3b0c442', { api_key_id: 'key-1', request_id: '0c7317f6-5d1e-4f7a-9c1b-3e2a1d4b5c6d', requested_by: null, step: 1, step_name: 'data_validation', state: 'pending', expires_at: 1764000600.125 }),
          auditEvent('delivered', 1764000000.127, 'f3b0c442', { connections: 2 }),
          auditEvent('answered', 1764000042.5, '9a1c77d0', { answered_by: 'user_123', connection_id: '5f0e2c1a-7b3d-4e9f-8a6b-1c2d3e4f5a6b', proceed: true, option: null, data: null, feedback: '同意继续执行' }),
          auditEvent('settled', 1764000042.5, '9a1c77d0', { state: 'confirmed', proceed: true }),
        ],
      },
    },
  },
  'GET /confirmations/{callback_id}/deliveries': {
    summary: "List a confirmation's webhook attempts: when, which event, status or error, latency, next attempt",
    parameters: { callback_id: 'task_456.step-1' },
    responses: {
      200: {
        callback_id: 'task_456.step-1',
        attempts: [
          {
            webhook_id: 'msg_3Jq0d0V1x2kq9QwZ8wS0b5pYkZ5m1cXr',
            event: 'decision',
            attempt: 1,
            at: 1764000042.61,
            status_code: 503,
            error: null,
            latency_ms: 84,
            outcome: 'retrying',
            next_attempt_at: 1764000043.9,
          },
          {
            webhook_id: 'msg_3Jq0d0V1x2kq9QwZ8wS0b5pYkZ5m1cXr',
            event: 'decision',
            attempt: 2,
            at: 1764000043.95,
            status_code: 204,
            error: null,
            latency_ms: 61,
            outcome: 'delivered',
            next_attempt_at: null,
          },
        ],
      },
    },
  },
  'GET /audit': {
    summary: "The deployment's audit events, filtered by user, task and time, a page at a time or as NDJSON",
    responses: {
      200: {
        events: [auditEvent('settled', 1764000042.5, '9a1c77d0', { state: 'confirmed', proceed: true })],
        next_cursor: '1764000042503-0',
      },
    },
  },
  'GET /tasks/{task_id}': {
    summary: "What the gateway knows about a task: cancellation, pending confirmations, heartbeat",
    parameters: { task_id: 'task_456' },
    responses: {
      200: {
        task_id: 'task_456',
        cancelled: true,
        cancelled_at: 1764000042.5,
        cancelled_by: 'user_123',
        pending_confirmations: [],
        heartbeat: null,
      },
    },
  },
  'POST /tasks/{task_id}/messages': {
    summary: "Push a message to a task's subscribers",
    parameters: { task_id: 'task_123' },
    requests: { task_progress: { summary: 'A progress update (design document, section 4.3)', value: TASK_PROGRESS } },
    responses: { 200: { delivered: 1 } },
  },
  'POST /tasks/{task_id}/subscribers': {
    summary: 'Allow a user to follow a task',
    parameters: { task_id: 'task_456' },
    requests: { grant: { summary: 'Let user_123 follow the task for a day', value: { user_id: 'user_123', ttl_seconds: 86400 } } },
    responses: { 201: { task_id: 'task_456', user_id: 'user_123', expires_at: 1764086400.0 } },
  },
  'DELETE /tasks/{task_id}/subscribers/{user_id}': {
    summary: "Revoke a user's permission to follow a task",
    parameters: { task_id: 'task_456', user_id: 'user_123' },
  },
  'POST /heartbeats': {
    summary: "Start a task's heartbeat (original send_heartbeat)",
    requests: { every_30_seconds: { summary: 'A beat every 30 seconds (design document, section 4.4)', value: { user_id: 'user_123', task_id: 'task_456', interval_seconds: 30 } } },
    responses: { 201: HEARTBEAT_VIEW },
  },
  'DELETE /heartbeats/{id}': {
    summary: 'Stop a heartbeat',
    parameters: { id: HEARTBEAT_VIEW.heartbeat_id },
  },
  'POST /broadcast': {
    summary: 'Push a message to every connection (original broadcast_message)',
    requests: {
      maintenance: { summary: 'A maintenance notice (design document, section 4.3)', value: MAINTENANCE_NOTICE },
      task_progress: { summary: 'A progress update for everyone (design document, section 4.3)', value: TASK_PROGRESS },
    },
    responses: { 200: { delivered: 12 } },
  },
  'POST /users/{user_id}/messages': {
    summary: "Push a message to one user's connections (original send_to_user)",
    parameters: { user_id: 'user_123' },
    requests: {
      task_done: {
        summary: 'Tell a user their task is done (design document, section 4.3)',
        value: { type: 'personal_notification', message: '您的任务已完成', task_id: 'task_456' },
      },
    },
    responses: { 200: { delivered: 2 } },
  },
  'GET /messages/{message_id}': {
    summary: 'Read whether a message sent with requires_ack was acknowledged',
    parameters: { message_id: '6f1c2a4e-0d7b-4a51-9b8e-2f0c1d3e4a5b' },
  },
  'GET /connections': { summary: "List the deployment's connections, optionally one user's" },
  'GET /health': { summary: 'Readiness: 200 when the service takes traffic' },
  'GET /health/live': { summary: 'Liveness: 200 while the process runs' },
  'GET /status': {
    summary: "Counters, with the original get_status()'s keys",
  },
  'GET /metrics': { summary: 'Prometheus metrics' },
  'GET /inbox': { summary: 'The inbox page, where users answer their prompts' },
  'GET /inbox/assets/{file}': { summary: "One of the inbox page's files" },
  'GET /inbox/sdk/{file}': { summary: "One of the JavaScript SDK's modules, for the inbox page" },
  'GET /a/{token}': { summary: "An action link's page: the prompt and one button (decides nothing)" },
  'POST /a/{token}': { summary: "Follows an action link: answers the prompt as the link's approver, once" },
  'GET /a/assets/links.css': { summary: "The action link pages' stylesheet" },
};

/** Adds the summaries and examples to the document's operations. */
export function applyOperationDocs(document: OpenAPIObject): void {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, value] of Object.entries(item)) {
      const docs = OPERATION_DOCS[`${method.toUpperCase()} ${path}`];
      if (!docs || typeof value !== 'object' || value === null || !('responses' in value)) continue;
      describe(value as OperationObject, docs);
    }
  }
}

function describe(operation: OperationObject, docs: OperationDocs): void {
  operation.summary = docs.summary;
  const body = operation.requestBody && 'content' in operation.requestBody ? operation.requestBody.content['application/json'] : undefined;
  if (body && docs.requests) body.examples = docs.requests;
  for (const [status, example] of Object.entries(docs.responses ?? {})) {
    const response = operation.responses[status];
    const media = response && 'content' in response ? response.content?.['application/json'] : undefined;
    if (media) media.example = example;
  }
  for (const parameter of operation.parameters ?? []) {
    if ('name' in parameter && parameter.in === 'path' && docs.parameters?.[parameter.name] !== undefined) parameter.example = docs.parameters[parameter.name];
  }
}
