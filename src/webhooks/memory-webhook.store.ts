import { randomUUID } from 'node:crypto';
import { ClaimedDelivery, EnqueueOutcome, unclaimed, WebhookAttempt, WebhookDelivery, WebhookStore, WebhookStoreSettings } from './webhook.store.js';

interface Entry {
  delivery: WebhookDelivery;
  /** When it is due; while claimed, when the claim's lease ends. */
  dueAt: number;
  claim: string | null;
}

interface Log {
  attempts: WebhookAttempt[];
  keptUntil: number;
}

/**
 * One instance's webhook schedule, in memory: lost with the process, like every memory
 * record. What it hands out are copies.
 */
export class MemoryWebhookStore extends WebhookStore {
  private readonly entries = new Map<string, Entry>();
  private readonly logs = new Map<string, Log>();

  constructor(private readonly settings: WebhookStoreSettings) {
    super();
  }

  async enqueue(delivery: WebhookDelivery, dueAt: number, maxQueued: number): Promise<EnqueueOutcome> {
    if (this.entries.has(delivery.id)) return 'exists';
    if (this.entries.size >= maxQueued) return 'full';
    this.entries.set(delivery.id, { delivery: unclaimed(delivery), dueAt, claim: null });
    return 'stored';
  }

  async claimDue(now: number, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
    const due: Entry[] = [];
    for (const entry of this.entries.values()) if (entry.dueAt <= now) due.push(entry);
    due.sort((a, b) => a.dueAt - b.dueAt);
    return due.slice(0, limit).map((entry) => {
      entry.claim = randomUUID();
      entry.dueAt = now + leaseMs;
      return { ...entry.delivery, claim: entry.claim };
    });
  }

  async finish(claimed: ClaimedDelivery, attempt: WebhookAttempt): Promise<boolean> {
    const entry = this.entries.get(claimed.id);
    if (!entry || entry.claim !== claimed.claim) return false;
    if (attempt.nextAttemptAt === null) {
      this.entries.delete(claimed.id);
    } else {
      entry.delivery = { ...entry.delivery, attempts: entry.delivery.attempts + 1 };
      entry.dueAt = attempt.nextAttemptAt;
      entry.claim = null;
    }
    this.log(claimed.callbackId, attempt);
    return true;
  }

  async attempts(callbackId: string): Promise<WebhookAttempt[]> {
    const log = this.logs.get(callbackId);
    if (!log) return [];
    if (log.keptUntil <= Date.now()) {
      this.logs.delete(callbackId);
      return [];
    }
    return log.attempts.map((attempt) => ({ ...attempt }));
  }

  async queueDepth(): Promise<number> {
    return this.entries.size;
  }

  private log(callbackId: string, attempt: WebhookAttempt): void {
    const now = Date.now();
    // Forget the logs nobody read past their retention (Map order: least recently written first).
    for (const [id, log] of this.logs) {
      if (log.keptUntil > now) break;
      this.logs.delete(id);
    }
    const log = this.logs.get(callbackId) ?? { attempts: [], keptUntil: 0 };
    this.logs.delete(callbackId);
    log.attempts.push({ ...attempt });
    if (log.attempts.length > this.settings.maxLoggedAttempts) log.attempts.splice(0, log.attempts.length - this.settings.maxLoggedAttempts);
    log.keptUntil = now + this.settings.logRetentionMs;
    this.logs.set(callbackId, log);
  }
}
