/** What a webhook tells: a confirmation's decision, a reminder that fell due, an escalation. */
export const WEBHOOK_EVENTS = ['decision', 'reminder_due', 'escalated'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** One event to one URL, kept until it is delivered, refused for good, or its window ends. */
export interface WebhookDelivery {
  /** The `webhook-id`: one per event, the same on every attempt, so receivers can drop repeats. */
  readonly id: string;
  readonly callbackId: string;
  readonly event: WebhookEvent;
  readonly url: string;
  /** The JSON body, signed and sent as is on every attempt. */
  readonly body: string;
  readonly createdAt: number;
  /** No attempt starts after this (WEBHOOK_RETRY_FOR_SECONDS after creation). */
  readonly giveUpAt: number;
  /** Attempts finished so far. */
  readonly attempts: number;
}

/** A delivery an instance holds until its lease ends; `claim` proves it still holds it. */
export interface ClaimedDelivery extends WebhookDelivery {
  readonly claim: string;
}

export type EnqueueOutcome = 'stored' | 'exists' | 'full';

export type AttemptOutcome = 'delivered' | 'retrying' | 'gone' | 'given_up';

/** One attempt as GET /confirmations/:id/deliveries lists it. */
export interface WebhookAttempt {
  readonly webhookId: string;
  readonly event: WebhookEvent;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly at: number;
  readonly statusCode: number | null;
  readonly error: string | null;
  readonly latencyMs: number;
  readonly outcome: AttemptOutcome;
  /** When the next attempt is due; null when this one ended the delivery. */
  readonly nextAttemptAt: number | null;
}

export interface WebhookStoreSettings {
  /** How long a confirmation's attempts stay listed after the last one. */
  logRetentionMs: number;
  /** Attempts listed per confirmation at most (the oldest go first). */
  maxLoggedAttempts: number;
}

/**
 * The webhook schedule, shared by every instance that can send: memory (one instance) or
 * Redis. A delivery is enqueued once per id; `claimDue` hands each due delivery to one
 * caller at a time (atomically, whichever instances ask at once) for a lease, after which
 * an unfinished claim (its instance died) is due again and another instance takes it;
 * `finish` records the attempt and reschedules or removes the delivery, only for the
 * holder of the current claim. What a store hands out is a value.
 * test/contracts/webhook-store.spec.ts holds every implementation to this.
 */
export abstract class WebhookStore {
  /**
   * Stores the delivery, due at `dueAt`: `stored`; `exists` when one with its id is kept
   * (nothing changes); `full` when `maxQueued` deliveries are waiting (WEBHOOK_MAX_QUEUED).
   */
  abstract enqueue(delivery: WebhookDelivery, dueAt: number, maxQueued: number): Promise<EnqueueOutcome>;

  /** Up to `limit` deliveries due at `now` (or whose lease ended), each claimed until now + leaseMs. */
  abstract claimDue(now: number, leaseMs: number, limit: number): Promise<ClaimedDelivery[]>;

  /**
   * Records the attempt; with `attempt.nextAttemptAt` the delivery is due again then,
   * else it is removed. False, and nothing changed, when the claim is no longer held.
   */
  abstract finish(claimed: ClaimedDelivery, attempt: WebhookAttempt): Promise<boolean>;

  /** The confirmation's attempts, oldest first. */
  abstract attempts(callbackId: string): Promise<WebhookAttempt[]>;

  /** Deliveries waiting (due, scheduled or claimed). */
  abstract queueDepth(): Promise<number>;
}

/** The record without its claim, as it is stored. */
export function unclaimed(delivery: WebhookDelivery): WebhookDelivery {
  const { id, callbackId, event, url, body, createdAt, giveUpAt, attempts } = delivery;
  return { id, callbackId, event, url, body, createdAt, giveUpAt, attempts };
}
