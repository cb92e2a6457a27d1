import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { AckedMessage, AckOutcome, AckStore } from '../../src/acks/ack.store.js';
import { MemoryAckStore } from '../../src/acks/memory-ack.store.js';
import { RedisAckStore } from '../../src/acks/redis-ack.store.js';
import { backendsFor, sleep, startedForThisFile } from './backends.js';

/**
 * The AckStore contract: messages that wait for an acknowledgement behave the same in
 * memory, on one Redis and on a three-master Redis Cluster (docs/PROTOCOL.md §8.16).
 */
const backends = backendsFor<AckStore, void>({
  memory: () => new MemoryAckStore(),
  redis: (shared) => new RedisAckStore(shared),
});

const RETENTION_MS = 60_000;
const anyone = async () => true;
const nobody = async () => false;

function message(overrides: Partial<AckedMessage> = {}): AckedMessage {
  const now = Date.now();
  const messageId = overrides.messageId ?? randomUUID();
  return {
    messageId,
    userId: 'alice',
    taskId: null,
    frame: JSON.stringify({ type: 'note', message_id: messageId, requires_ack: true }),
    createdAt: now,
    expiresAt: now + 60_000,
    ackedAt: null,
    ackedBy: null,
    ackedConnection: null,
    ...overrides,
  };
}

describe.each(backends)('AckStore contract on %s', (_kind, backend) => {
  startedForThisFile(backend);

  it('keeps a message as sent and records its one acknowledgement', async () => {
    const [one, two] = await backend.stores();
    const sent = message();
    await one.create(sent, RETENTION_MS);
    expect(await two.get(sent.messageId)).toEqual(sent);
    expect(await two.get('unknown')).toBeUndefined();
    const at = Date.now();
    const acked = { ...sent, ackedAt: at, ackedBy: 'alice', ackedConnection: 'conn-1' };
    expect(await two.ack(sent.messageId, 'alice', 'conn-1', at, RETENTION_MS, anyone)).toEqual({ kind: 'acked', message: acked });
    expect(await one.ack(sent.messageId, 'alice', 'conn-2', at + 1, RETENTION_MS, anyone)).toEqual({ kind: 'already', message: acked });
    expect(await one.get(sent.messageId)).toEqual(acked);
  });

  it('refuses another user, an unknown id and an expired message', async () => {
    const [one, two] = await backend.stores();
    const sent = message({ expiresAt: Date.now() + 200 });
    await one.create(sent, RETENTION_MS);
    expect(await two.ack(sent.messageId, 'mallory', 'conn-9', Date.now(), RETENTION_MS, anyone)).toEqual({ kind: 'forbidden' });
    expect(await two.ack('unknown', 'alice', 'conn-1', Date.now(), RETENTION_MS, anyone)).toEqual({ kind: 'not_found' });
    await sleep(250);
    expect(await two.ack(sent.messageId, 'alice', 'conn-1', Date.now(), RETENTION_MS, anyone)).toEqual({ kind: 'expired', message: sent });
    expect(await one.get(sent.messageId)).toEqual(sent);
  });

  it('lets a task\'s message be acknowledged by whoever may follow the task', async () => {
    const [one, two] = await backend.stores();
    const sent = message({ userId: null, taskId: 'task-1' });
    await one.create(sent, RETENTION_MS);
    expect(await two.ack(sent.messageId, 'mallory', 'conn-9', Date.now(), RETENTION_MS, nobody)).toEqual({ kind: 'forbidden' });
    expect((await two.ack(sent.messageId, 'bob', 'conn-2', Date.now(), RETENTION_MS, anyone)).kind).toBe('acked');
    expect((await one.get(sent.messageId))?.ackedBy).toBe('bob');
  });

  it('records one acknowledgement when three instances take acks at the same moment', async () => {
    const stores = await backend.stores();
    const sent = message();
    await stores[0].create(sent, RETENTION_MS);
    const outcomes: AckOutcome[] = await Promise.all(stores.flatMap((s, i) => [
      s.ack(sent.messageId, 'alice', `conn-${i}a`, Date.now(), RETENTION_MS, anyone),
      s.ack(sent.messageId, 'alice', `conn-${i}b`, Date.now(), RETENTION_MS, anyone),
    ]));
    const acked = outcomes.filter((o) => o.kind === 'acked');
    expect(acked).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'already')).toHaveLength(5);
    const stored = await stores[1].get(sent.messageId);
    expect(stored?.ackedConnection).toBe(acked[0].kind === 'acked' ? acked[0].message.ackedConnection : 'none');
  });

  it('lists the unacknowledged, unexpired messages of a user or a task, oldest first', async () => {
    const [one, two, three] = await backend.stores();
    const now = Date.now();
    const older = message({ createdAt: now - 20 });
    const newer = message({ createdAt: now - 10 });
    const acked = message({ createdAt: now - 30 });
    const expiring = message({ createdAt: now - 40, expiresAt: now + 200 });
    const forTask = message({ userId: null, taskId: 'task-1' });
    for (const [i, m] of [newer, older, acked, expiring, forTask].entries()) await [one, two, three][i % 3].create(m, RETENTION_MS);
    await two.ack(acked.messageId, 'alice', 'conn-1', Date.now(), RETENTION_MS, anyone);
    expect(await three.unacked({ userId: 'alice' }, Date.now())).toEqual([expiring, older, newer]);
    expect(await one.unacked({ taskId: 'task-1' }, Date.now())).toEqual([forTask]);
    expect(await one.unacked({ userId: 'bob' }, Date.now())).toEqual([]);
    await sleep(250);
    expect(await three.unacked({ userId: 'alice' }, Date.now())).toEqual([older, newer]);
  });

  it('forgets a message its retention after it was acknowledged or expired', async () => {
    const [one, two] = await backend.stores();
    // Acked at about `start`, gone from start + 1000; expiring at start + 600, gone from
    // start + 1600. Each check sits 500 ms from either edge, and is timed from `start`, so
    // a loaded machine's late timers do not add up.
    const start = Date.now();
    const retentionMs = 1000;
    const acked = message();
    const expiring = message({ expiresAt: start + 600 });
    await one.create(acked, retentionMs);
    await one.create(expiring, retentionMs);
    await two.ack(acked.messageId, 'alice', 'conn-1', Date.now(), retentionMs, anyone);
    await sleepUntil(start + 500);
    expect(await two.get(acked.messageId)).toBeDefined();
    expect(await two.get(expiring.messageId)).toBeDefined();
    await sleepUntil(start + 1100);
    expect(await one.get(acked.messageId)).toBeUndefined();
    expect(await one.get(expiring.messageId)).toBeDefined();
    await sleepUntil(start + 1700);
    expect(await one.get(expiring.messageId)).toBeUndefined();
    expect(await one.ack(expiring.messageId, 'alice', 'conn-1', Date.now(), retentionMs, anyone)).toEqual({ kind: 'not_found' });
  });

  it('hands out values: changing what it returned changes nothing stored, and an ack changes nothing handed out', async () => {
    const [store] = await backend.stores();
    const sent = message();
    await store.create(sent, RETENTION_MS);
    sent.ackedAt = 1;
    const read = (await store.get(sent.messageId)) as AckedMessage;
    read.ackedBy = 'tampered';
    (await store.unacked({ userId: 'alice' }, Date.now()))[0].ackedConnection = 'tampered';
    const fresh = (await store.get(sent.messageId)) as AckedMessage;
    expect(fresh).toMatchObject({ ackedAt: null, ackedBy: null, ackedConnection: null });
    const outcome = await store.ack(sent.messageId, 'alice', 'conn-1', Date.now(), RETENTION_MS, anyone);
    expect(fresh).toMatchObject({ ackedAt: null, ackedBy: null, ackedConnection: null });
    if (outcome.kind === 'acked') outcome.message.ackedBy = 'tampered';
    expect((await store.get(sent.messageId))?.ackedBy).toBe('alice');
  });
});

/** Sleeps until the clock reads `at` (epoch ms), at once if it already does. */
async function sleepUntil(at: number): Promise<void> {
  await sleep(Math.max(0, at - Date.now()));
}
