import { randomUUID } from 'node:crypto';
import { LuaScripts } from '../redis/lua-scripts.js';
import { escapeKeyPart, RedisService } from '../redis/redis.service.js';
import { ClaimedDelivery, EnqueueOutcome, unclaimed, WebhookAttempt, WebhookDelivery, WebhookStore, WebhookStoreSettings } from './webhook.store.js';

/**
 * The webhook schedule in Redis, shared by every instance. Everything sits in one hash slot
 * (`{webhooks}`), so enqueue, claim and finish are single scripts
 * (src/redis/lua/webhook-*.lua): the schedule (a sorted set of ids by due time; a claimed
 * id is scored by its lease's end, so it is due again if its instance dies), the records
 * (a hash of JSON), the current claims, and one attempt log per confirmation (a capped
 * list that expires). Deliveries are few next to prompts (at most one per decision and
 * per reminder), so one slot is not a hot spot.
 */
export class RedisWebhookStore extends WebhookStore {
  private readonly scripts: LuaScripts;

  constructor(
    private readonly shared: RedisService,
    private readonly settings: WebhookStoreSettings,
  ) {
    super();
    this.scripts = LuaScripts.of(shared.commands);
  }

  /** Read on every call: RedisService's prefix is part of its settings. */
  private get keys(): [schedule: string, records: string, claims: string] {
    return [this.key('due'), this.key('records'), this.key('claims')];
  }

  private key(...parts: string[]): string {
    return this.shared.key('{webhooks}', ...parts);
  }

  private logKey(callbackId: string): string {
    return this.key('log', escapeKeyPart(callbackId));
  }

  enqueue(delivery: WebhookDelivery, dueAt: number, maxQueued: number): Promise<EnqueueOutcome> {
    return this.shared.run(async () => {
      const [schedule, records] = this.keys;
      return this.scripts.run('webhookEnqueue', [schedule, records], [delivery.id, JSON.stringify(unclaimed(delivery)), dueAt, maxQueued]);
    });
  }

  claimDue(now: number, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
    return this.shared.run(async () => {
      const flat = await this.scripts.run('webhookClaim', this.keys, [now, now + leaseMs, limit, randomUUID()]);
      const claimed: ClaimedDelivery[] = [];
      for (let i = 0; i < flat.length; i += 3) claimed.push({ ...(JSON.parse(flat[i + 2]) as WebhookDelivery), claim: flat[i + 1] });
      return claimed;
    });
  }

  finish(claimed: ClaimedDelivery, attempt: WebhookAttempt): Promise<boolean> {
    return this.shared.run(async () => {
      const next = attempt.nextAttemptAt;
      const record = next === null ? '' : JSON.stringify({ ...unclaimed(claimed), attempts: claimed.attempts + 1 });
      const done = await this.scripts.run('webhookFinish', [...this.keys, this.logKey(claimed.callbackId)], [
        claimed.id,
        claimed.claim,
        JSON.stringify(attempt),
        next === null ? '' : next,
        record,
        this.settings.maxLoggedAttempts,
        this.settings.logRetentionMs,
      ]);
      return done === 1;
    });
  }

  attempts(callbackId: string): Promise<WebhookAttempt[]> {
    return this.shared.run(async () => {
      const entries = await this.shared.commands.lrange(this.logKey(callbackId), 0, -1);
      return entries.map((entry) => JSON.parse(entry) as WebhookAttempt);
    });
  }

  queueDepth(): Promise<number> {
    return this.shared.run(() => this.shared.commands.zcard(this.keys[0]));
  }
}
