import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { MemoryWebhookStore } from '../../src/webhooks/memory-webhook.store.js';
import { RedisWebhookStore } from '../../src/webhooks/redis-webhook.store.js';
import { WebhookAttempt, WebhookDelivery, WebhookStore, WebhookStoreSettings } from '../../src/webhooks/webhook.store.js';
import { backendsFor, sleep, startedForThisFile } from './backends.js';

/**
 * The WebhookStore contract (docs/WEBHOOKS.md): a delivery is kept once per webhook-id,
 * each due attempt goes to one instance at a time, a claim whose instance died is taken
 * over after its lease, and only the current claim may finish it; the same in memory, on
 * one Redis and on a three-master Redis Cluster.
 */
const backends = backendsFor<WebhookStore, WebhookStoreSettings>({
  memory: (settings) => new MemoryWebhookStore(settings),
  redis: (shared, settings) => new RedisWebhookStore(shared, settings),
});

const SETTINGS: WebhookStoreSettings = { logRetentionMs: 60_000, maxLoggedAttempts: 5 };
const LEASE_MS = 60_000;
const ROOM = 1000;

function delivery(overrides: Partial<WebhookDelivery> = {}): WebhookDelivery {
  const now = Date.now();
  return {
    id: `msg_${randomUUID()}`,
    callbackId: 'cb-1',
    event: 'decision',
    url: 'https://hooks.example.com/in',
    body: '{"type":"decision","data":{"callback_id":"cb-1"}}',
    createdAt: now,
    giveUpAt: now + 86_400_000,
    attempts: 0,
    ...overrides,
  };
}

function attemptOf(d: WebhookDelivery, overrides: Partial<WebhookAttempt> = {}): WebhookAttempt {
  return {
    webhookId: d.id,
    event: d.event,
    attempt: d.attempts + 1,
    at: Date.now(),
    statusCode: 503,
    error: null,
    latencyMs: 12,
    outcome: 'retrying',
    nextAttemptAt: Date.now() + 60_000,
    ...overrides,
  };
}

describe.each(backends)('WebhookStore contract on %s', (_kind, backend) => {
  startedForThisFile(backend);

  it('keeps one delivery per webhook-id', async () => {
    const [one, two, three] = await backend.stores(SETTINGS);
    const first = delivery();
    const results = await Promise.all([one.enqueue(first, Date.now(), ROOM), two.enqueue({ ...first, url: 'https://other.example.com/' }, Date.now(), ROOM), three.enqueue(first, Date.now(), ROOM)]);
    expect(results.sort()).toEqual(['exists', 'exists', 'stored']);
    expect(await one.queueDepth()).toBe(1);
    const [claimed] = await two.claimDue(Date.now(), LEASE_MS, 10);
    expect(claimed).toMatchObject({ id: first.id });
    expect(await three.claimDue(Date.now(), LEASE_MS, 10)).toEqual([]);
  });

  it('refuses a delivery past the cap of waiting ones, a kept id still answering exists', async () => {
    const [one, two] = await backend.stores(SETTINGS);
    const [a, b, c] = [delivery(), delivery(), delivery()];
    expect(await one.enqueue(a, Date.now(), 2)).toBe('stored');
    expect(await two.enqueue(b, Date.now(), 2)).toBe('stored');
    expect(await one.enqueue(c, Date.now(), 2)).toBe('full');
    expect(await two.enqueue(a, Date.now(), 2)).toBe('exists');
    const [claimed] = await one.claimDue(Date.now(), LEASE_MS, 1);
    await one.finish(claimed, attemptOf(claimed, { outcome: 'delivered', statusCode: 200, nextAttemptAt: null }));
    expect(await two.enqueue(c, Date.now(), 2)).toBe('stored');
    expect(await one.queueDepth()).toBe(2);
  });

  it('hands out only what is due, earliest first, at most the limit', async () => {
    const [one, two] = await backend.stores(SETTINGS);
    const now = Date.now();
    const later = delivery();
    const soon = delivery();
    const sooner = delivery();
    await one.enqueue(later, now + 60_000, ROOM);
    await one.enqueue(soon, now - 10, ROOM);
    await one.enqueue(sooner, now - 20, ROOM);
    const claimed = await two.claimDue(now, LEASE_MS, 1);
    expect(claimed.map((c) => c.id)).toEqual([sooner.id]);
    expect(claimed[0]).toEqual({ ...sooner, claim: expect.any(String) });
    expect((await two.claimDue(now, LEASE_MS, 10)).map((c) => c.id)).toEqual([soon.id]);
    expect(await one.claimDue(now, LEASE_MS, 10)).toEqual([]);
    expect(await one.queueDepth()).toBe(3);
  });

  it('never hands one due attempt to two instances claiming at once', async () => {
    const stores = await backend.stores(SETTINGS);
    const all = Array.from({ length: 30 }, () => delivery());
    for (const d of all) await stores[0].enqueue(d, Date.now() - 1, ROOM);
    const rounds = await Promise.all([...stores, ...stores].map((s) => s.claimDue(Date.now(), LEASE_MS, 7)));
    const ids = rounds.flat().map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const rest = await stores[1].claimDue(Date.now(), LEASE_MS, 100);
    expect([...ids, ...rest.map((c) => c.id)].sort()).toEqual(all.map((d) => d.id).sort());
  });

  it('takes a claim over once its lease ended; the old claim can no longer finish it', async () => {
    const [one, two] = await backend.stores(SETTINGS);
    const d = delivery();
    await one.enqueue(d, Date.now(), ROOM);
    const [held] = await one.claimDue(Date.now(), 300, 10);
    expect(await two.claimDue(Date.now(), 300, 10)).toEqual([]);
    await sleep(400);
    const [taken] = await two.claimDue(Date.now(), LEASE_MS, 10);
    expect(taken).toMatchObject({ id: d.id, attempts: 0 });
    expect(taken.claim).not.toBe(held.claim);
    expect(await one.finish(held, attemptOf(held, { outcome: 'delivered', statusCode: 204, nextAttemptAt: null }))).toBe(false);
    expect(await one.queueDepth()).toBe(1);
    expect(await one.attempts(d.callbackId)).toEqual([]);
    expect(await two.finish(taken, attemptOf(taken, { outcome: 'delivered', statusCode: 204, nextAttemptAt: null }))).toBe(true);
    expect(await one.queueDepth()).toBe(0);
  });

  it('reschedules a failed attempt: due again at its next time, with the attempt counted and listed', async () => {
    const [one, two] = await backend.stores(SETTINGS);
    const d = delivery({ callbackId: 'cb-retry' });
    await one.enqueue(d, Date.now(), ROOM);
    const [claimed] = await one.claimDue(Date.now(), LEASE_MS, 10);
    const next = Date.now() + 300;
    const failed = attemptOf(claimed, { statusCode: null, error: 'connect ECONNREFUSED', nextAttemptAt: next });
    expect(await one.finish(claimed, failed)).toBe(true);
    expect(await one.finish(claimed, failed)).toBe(false);
    expect(await two.claimDue(Date.now(), LEASE_MS, 10)).toEqual([]);
    await sleep(Math.max(0, next - Date.now()) + 50);
    const [again] = await two.claimDue(Date.now(), LEASE_MS, 10);
    expect(again).toMatchObject({ id: d.id, attempts: 1, body: d.body });
    const delivered = attemptOf(again, { statusCode: 200, outcome: 'delivered', nextAttemptAt: null });
    expect(await two.finish(again, delivered)).toBe(true);
    expect(await one.attempts('cb-retry')).toEqual([failed, delivered]);
    expect(await one.attempts('cb-other')).toEqual([]);
    expect(await one.queueDepth()).toBe(0);
  });

  it('lists at most maxLoggedAttempts per confirmation, the latest ones', async () => {
    const [store] = await backend.stores(SETTINGS);
    let d = delivery({ callbackId: 'cb-many' });
    await store.enqueue(d, Date.now(), ROOM);
    const made: WebhookAttempt[] = [];
    for (let i = 0; i < 7; i++) {
      const [claimed] = await store.claimDue(Date.now() + 1000 * i, LEASE_MS, 1);
      const attempt = attemptOf(claimed, { nextAttemptAt: Date.now() + 1000 * (i + 1) - 1 });
      made.push(attempt);
      expect(await store.finish(claimed, attempt)).toBe(true);
      d = claimed;
    }
    expect(await store.attempts('cb-many')).toEqual(made.slice(-5));
  });

  it('hands out values: changing what it returned changes nothing stored', async () => {
    const [store] = await backend.stores(SETTINGS);
    const d = delivery({ callbackId: 'cb-values' });
    await store.enqueue(d, Date.now(), ROOM);
    (d as { url: string }).url = 'https://changed.example.com/';
    const [claimed] = await store.claimDue(Date.now(), 100, 10);
    expect(claimed.url).toBe('https://hooks.example.com/in');
    (claimed as { body: string }).body = 'changed';
    await sleep(150);
    const [again] = await store.claimDue(Date.now(), LEASE_MS, 10);
    expect(again.body).toBe(delivery().body);
    const attempt = attemptOf(again);
    await store.finish(again, attempt);
    const [listed] = await store.attempts('cb-values');
    (listed as { statusCode: number }).statusCode = 1;
    expect((await store.attempts('cb-values'))[0].statusCode).toBe(503);
  });
});
