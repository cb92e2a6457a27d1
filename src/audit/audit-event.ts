import type { ConfirmationState } from '../protocol/server-frames.js';

/**
 * What each kind of audit event carries in `details` (snake_case, as GET /audit serves it).
 *
 * The kinds are an open union: a feature adds its kind with one line here, or, without
 * touching this file, by declaration merging from its own module:
 *
 *     declare module '../audit/audit-event.js' {
 *       interface AuditEventDetails { sms_sent: { to: string; attempt: number } }
 *     }
 *
 * A ConfirmationEvent type that AuditTrail has no mapping for is recorded as it is: its
 * `type` becomes the kind and its fields (but the confirmation) the details, in
 * snake_case. docs/AUDIT.md lists every kind; add yours there too. Merged from their own
 * modules: `link_opened`, `link_used` (src/links/action-links.service.ts) and
 * `webhook_attempt` (src/webhooks/webhook-dispatcher.service.ts).
 */
export interface AuditEventDetails {
  /** The task service asked. */
  created: {
    /** Which of API_KEYS authenticated the request (`key-1` is the first); null without keys. Never the key. */
    api_key_id: string | null;
    /** The HTTP request's id (its X-Request-Id, or the one the gateway gave it). */
    request_id: string | null;
    /** Who asked on the task service's side, when the request names them. */
    requested_by: string | null;
    step: number;
    step_name: string;
    /** `pending`, or `cancelled` for a task the user had already cancelled. */
    state: ConfirmationState;
    expires_at: number;
  };
  /** The prompt was published to the user's connections (from one instance). */
  delivered: { connections: number };
  /** A user answered (the answer that decided it). */
  answered: {
    answered_by: string;
    connection_id: string | null;
    proceed: boolean;
    option: string | null;
    data: Record<string, unknown> | null;
    feedback: string | null;
  };
  /** The confirmation left `pending`: answered, timed out or cancelled. */
  settled: { state: ConfirmationState; proceed: boolean };
  /** The prompt went out again: reminder `reminder` (from 1), from the instance that claimed it. */
  reminder: { reminder: number; instance_id: string; connections: number };
  /** Approvers were added by escalation step `step` (from 0). */
  escalated: { step: number; users: string[]; groups: string[]; instance_id: string };
}

export type AuditEventKind = keyof AuditEventDetails;

/**
 * One event of a confirmation's history, as stored and as served. Append-only: nothing
 * changes or removes an event but its retention (AUDIT_RETENTION_DAYS) and, in memory
 * mode, AUDIT_MAX_EVENTS.
 */
export interface AuditEvent<K extends AuditEventKind = AuditEventKind> {
  /** Unique per event (a write that was retried is told apart by it). */
  event_id: string;
  kind: K;
  callback_id: string;
  /** The confirmation's user (who answered is in the details). */
  user_id: string;
  task_id: string;
  /** When it happened, Unix epoch seconds with millisecond precision. */
  at: number;
  /** The instance that recorded it. */
  instance_id: string;
  details: AuditEventDetails[K];
}

/** Events one confirmation keeps at most; past it its oldest leave its trail (GET /audit still has them until retention). */
export const MAX_EVENTS_PER_CONFIRMATION = 1000;

/** Entries one page of GET /audit reads at most while filtering: a page may hold fewer than `limit` events and still have a next_cursor. */
export const AUDIT_SCAN_BUDGET = 10_000;

/** Largest `limit` of one page. */
export const MAX_AUDIT_PAGE = 500;

/** A cursor of GET /audit: the position of the last event read (`<ms>-<seq>`, like a Redis stream id). */
export const AUDIT_CURSOR = /^\d{1,16}-\d{1,16}$/;

/**
 * A confirmation's events in the order they happened: by `at`, then in the order written
 * (events of one instance are written in order; instances' clocks are assumed in step to
 * well under a human's answer). A retried write's duplicate is dropped.
 */
export function orderTrail(events: AuditEvent[]): AuditEvent[] {
  const seen = new Set<string>();
  const unique = events.filter((event) => !seen.has(event.event_id) && seen.add(event.event_id));
  // Array.prototype.sort is stable: equal times keep the written order.
  return unique.sort((a, b) => a.at - b.at);
}
