import { createHash } from 'node:crypto';
import type { ConfirmationEvent } from '../confirmations/confirmation-events.js';
import { type Confirmation, toDecision } from '../confirmations/confirmation.js';
import { epochSeconds } from '../protocol/server-frames.js';
import type { WebhookEvent } from './webhook.store.js';

/** A webhook to send: its stable id, its event and its JSON body. */
export interface WebhookMessage {
  id: string;
  event: WebhookEvent;
  body: string;
}

/**
 * The webhook a confirmation event gives, or null for events that send none. Its id is
 * derived from what the event is about (the confirmation, the kind, the reminder's number),
 * so the same event told twice, by two instances or after a retry, has one id.
 */
export function webhookFor(event: ConfirmationEvent): WebhookMessage | null {
  const c = event.confirmation;
  switch (event.type) {
    case 'settled':
      return message('decision', c, event.at, '', decisionData(c));
    case 'reminder':
      return message('reminder_due', c, event.at, String(event.reminder), { ...pendingData(c), reminder: event.reminder });
    case 'escalated':
      return message('escalated', c, event.at, String(event.step), { ...pendingData(c), step: event.step, users: event.users, groups: event.groups });
    default:
      return null;
  }
}

/** The user and task a webhook's body is about (every event's data carries them), for the audit trail. */
export function subjectOf(body: string): { userId: string; taskId: string } {
  const { data } = JSON.parse(body) as { data: { user_id: string; task_id: string } };
  return { userId: data.user_id, taskId: data.task_id };
}

function message(event: WebhookEvent, c: Confirmation, at: number, discriminator: string, data: Record<string, unknown>): WebhookMessage {
  const digest = createHash('sha256').update(`${event}\n${c.callbackId}\n${c.createdAt}\n${discriminator}`).digest('base64url');
  const body = JSON.stringify({ type: event, timestamp: new Date(at).toISOString(), data });
  return { id: `msg_${digest.slice(0, 32)}`, event, body };
}

function common(c: Confirmation): Record<string, unknown> {
  return {
    callback_id: c.callbackId,
    user_id: c.userId,
    task_id: c.taskId,
    step: c.step,
    step_name: c.stepName,
    created_at: epochSeconds(c.createdAt),
    expires_at: epochSeconds(c.expiresAt),
  };
}

/** The decision as a waiting caller gets it (toDecision: with an approval's option, data, decided_by and votes), and more. */
function decisionData(c: Confirmation): Record<string, unknown> {
  return {
    ...common(c),
    ...toDecision(c),
    settled_at: c.settledAt === null ? null : epochSeconds(c.settledAt),
    metadata: c.metadata ?? null,
  };
}

function pendingData(c: Confirmation): Record<string, unknown> {
  return { ...common(c), state: c.state, metadata: c.metadata ?? null };
}
