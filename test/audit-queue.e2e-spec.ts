import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AUDIT_BATCH_MAX, AUDIT_QUEUE_MAX, AuditTrail } from '../src/audit/audit-trail.service.js';
import type { AuditStore } from '../src/audit/audit.store.js';
import { MemoryAuditStore } from '../src/audit/memory-audit.store.js';
import { RedisAuditStore } from '../src/audit/redis-audit.store.js';
import type { Confirmation } from '../src/confirmations/confirmation.js';
import { ConfirmationEvent, ConfirmationEvents } from '../src/confirmations/confirmation-events.js';
import { MetricsService } from '../src/metrics/metrics.service.js';
import { InstanceIdentity } from '../src/redis/instance-identity.js';
import { RedisService } from '../src/redis/redis.service.js';
import { waitFor } from './support/processes.js';
import { RedisServer } from './support/redis-server.js';
import { requireProgram } from './support/system-dependency.js';

/**
 * AuditTrail's queue on a real redis-server: nothing is written while a request runs,
 * events go out in batches, a Redis outage keeps them queued up to the bound (drops
 * counted), and shutdown writes what is left. Event types without a mapping are recorded.
 */
const RETENTION = { retentionMs: 86_400_000, maxEvents: 100_000 };

function confirmation(i: number): Confirmation {
  return {
    callbackId: `cb-${i}`,
    userId: 'alice',
    taskId: 'task-q',
    step: 1,
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    stepName: 'check',
    message: 'Continue?',
    frame: null,
    state: 'pending',
    proceed: null,
    feedback: null,
    settledAt: null,
  };
}

function created(i: number): ConfirmationEvent {
  return { type: 'created', confirmation: confirmation(i), at: Date.now(), requestId: `req-${i}`, apiKeyId: 'key-1' };
}

/** The trail on a store whose appends are counted (the real store's method, wrapped). */
function trailOn(store: AuditStore) {
  const events = new ConfirmationEvents();
  const metrics = new MetricsService();
  const appends: number[] = [];
  const append = store.append.bind(store);
  store.append = (batch) => {
    appends.push(batch.length);
    return append(batch);
  };
  const trail = new AuditTrail(events, store, new InstanceIdentity(), metrics);
  const dropped = async () => Number(/^gateway_audit_events_dropped_total (\d+)$/m.exec(await metrics.registry.metrics())?.[1]);
  return { events, trail, appends, dropped };
}

// Audit lines, and the outage's Redis errors, are what these cases provoke.
beforeAll(() => Logger.overrideLogger(false));
afterAll(() => Logger.overrideLogger(['error', 'warn', 'log']));

describe('audit trail queue', () => {
  it('records event types it has no mapping for as they are', async () => {
    const store = new MemoryAuditStore(RETENTION);
    const { events, trail } = trailOn(store);
    const event = { type: 'reminded', confirmation: confirmation(1), at: Date.now(), reminderNumber: 2, nextAt: undefined };
    await events.emit(event as unknown as ConfirmationEvent);
    await trail.flush();
    expect((await store.trail('cb-1')).map(({ kind, details }) => ({ kind, details }))).toEqual([{ kind: 'reminded', details: { reminder_number: 2 } }]);
  });
});

const haveRedis = requireProgram('redis-server', 'redis-server');

(haveRedis ? describe : describe.skip)('audit trail queue on redis-server', () => {
  let redis: RedisServer;
  let shared: RedisService;

  beforeAll(async () => {
    redis = await RedisServer.start();
  }, 30_000);
  afterAll(async () => {
    await shared?.onApplicationShutdown();
    await redis?.close();
  });

  async function connect(): Promise<RedisAuditStore> {
    await shared?.onApplicationShutdown();
    shared = new RedisService({ url: redis.url, cluster: false, keyPrefix: `q-${randomUUID().slice(0, 8)}:`, commandTimeoutMs: 2000 }, randomUUID());
    await waitFor(() => shared.commands.status === 'ready', 10_000, 'Redis');
    return new RedisAuditStore(shared, RETENTION);
  }

  it('writes nothing while events are recorded, then in batches of at most AUDIT_BATCH_MAX, in order', async () => {
    const store = await connect();
    const { events, trail, appends } = trailOn(store);
    const count = AUDIT_BATCH_MAX * 2 + 200;
    for (let i = 0; i < count; i++) void events.emit(created(i));
    // All recorded, none written: the request that recorded them did not wait for Redis.
    expect(trail.queued).toBe(count);
    expect(appends).toEqual([]);
    await waitFor(() => trail.queued === 0, 5000, 'the queue to be written');
    await trail.flush();
    expect(appends).toEqual([AUDIT_BATCH_MAX, AUDIT_BATCH_MAX, 200]);
    const page = await store.query({ taskId: 'task-q' }, null, 500);
    expect(page.events.map((e) => e.callback_id)).toEqual(Array.from({ length: 500 }, (_, i) => `cb-${i}`));
    expect(page.events[0].details).toMatchObject({ api_key_id: 'key-1', request_id: 'req-0' });
  });

  it('keeps events queued while Redis is away, drops and counts past the bound, and writes the rest when it returns', async () => {
    const store = await connect();
    const { events, trail, dropped } = trailOn(store);
    await redis.stop();
    for (let i = 0; i < AUDIT_QUEUE_MAX + 50; i++) void events.emit(created(i));
    expect(trail.queued).toBe(AUDIT_QUEUE_MAX);
    expect(await dropped()).toBe(50);
    await trail.flush();
    expect(trail.queued).toBe(AUDIT_QUEUE_MAX);
    await redis.startProcess();
    await waitFor(() => trail.queued === 0, 20_000, 'the queue to be written after Redis returned');
    await trail.flush();
    let total = 0;
    let cursor: string | null = null;
    do {
      const page = await store.query({}, cursor, 500);
      total += page.events.length;
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(total).toBe(AUDIT_QUEUE_MAX);
    expect(await dropped()).toBe(50);
  }, 40_000);

  it('writes what is queued at shutdown', async () => {
    const store = await connect();
    const { events, trail } = trailOn(store);
    for (let i = 0; i < 30; i++) void events.emit(created(i));
    expect(trail.queued).toBe(30);
    await trail.beforeApplicationShutdown();
    expect(trail.queued).toBe(0);
    expect((await store.query({}, null, 500)).events).toHaveLength(30);
  });
});
