import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Confirmation } from '../../src/confirmations/confirmation.js';
import { ConfirmationStore, CreateLimits, CreateOutcome, Settlement } from '../../src/confirmations/confirmation.store.js';
import { MemoryConfirmationStore, RetentionSettings } from '../../src/confirmations/memory-confirmation.store.js';
import { RedisConfirmationStore } from '../../src/confirmations/redis-confirmation.store.js';
import { backendsFor, sleep, startedForThisFile } from './backends.js';

/**
 * The ConfirmationStore contract: the same calls give the same outcomes in memory, on one
 * Redis and on a three-master Redis Cluster. Where they could differ, docs/PROTOCOL.md §6
 * decides. Three stores share each backend, as three instances would.
 */
const backends = backendsFor<ConfirmationStore, RetentionSettings>({
  memory: (retention) => new MemoryConfirmationStore(retention),
  redis: (shared, retention) => new RedisConfirmationStore(shared, retention),
});

const LONG: RetentionSettings = { retentionMs: 60_000, maxRetained: 1000 };
const ROOMY: CreateLimits = { maxPendingPerUser: 100, maxPendingTotal: 1000 };

function draft(overrides: Partial<Confirmation> = {}): Confirmation {
  const now = Date.now();
  const callbackId = overrides.callbackId ?? randomUUID();
  const userId = overrides.userId ?? 'alice';
  const taskId = overrides.taskId ?? 'task-1';
  return {
    callbackId,
    userId,
    taskId,
    step: 1,
    createdAt: now,
    expiresAt: now + 60_000,
    stepName: 'review',
    message: 'Continue?',
    frame: {
      type: 'task_step_result', callback_id: callbackId, step: 1, step_name: 'review', message: 'Continue?', result: null,
      status: 'ok', completed: false, error_code: null, error_message: null, user_id: userId, task_id: taskId,
      timestamp: now / 1000, expires_at: (now + 60_000) / 1000,
    },
    state: 'pending',
    proceed: null,
    feedback: null,
    settledAt: null,
    ...overrides,
  };
}

const answer = (proceed = true, feedback: string | null = null): Settlement => ({
  state: proceed ? 'confirmed' : 'rejected', proceed, feedback, settledAt: Date.now(),
});

function kinds(outcomes: CreateOutcome[]): Record<string, number> {
  const counted: Record<string, number> = {};
  for (const { kind } of outcomes) counted[kind] = (counted[kind] ?? 0) + 1;
  return counted;
}

describe.each(backends)('ConfirmationStore contract on %s', (_kind, backend) => {
  startedForThisFile(backend);

  it('creates a pending confirmation and reads it back as created', async () => {
    const [store] = await backend.stores(LONG);
    const asked = draft({ feedback: null });
    const outcome = await store.create(asked, ROOMY, null);
    expect(outcome).toEqual({ kind: 'created', confirmation: asked });
    expect(await store.get(asked.callbackId)).toEqual(asked);
    expect(await store.pendingForUser('alice')).toEqual([asked]);
    expect(await store.pendingForTask('task-1')).toEqual([asked]);
    expect(await store.pendingTotal()).toBe(1);
    expect(await store.involves('alice', 'task-1')).toBe(true);
    expect(await store.involves('alice', 'task-2')).toBe(false);
    expect(await store.involves('bob', 'task-1')).toBe(false);
    expect(await store.get('unknown')).toBeUndefined();
  });

  it('settles once: the first settlement wins, another user cannot, the prompt is dropped', async () => {
    const [one, two] = await backend.stores(LONG);
    const asked = draft();
    await one.create(asked, ROOMY, null);
    expect(await two.settle('mallory', asked.callbackId, answer())).toEqual({ kind: 'not_found' });
    expect(await two.settle('alice', 'unknown', answer())).toEqual({ kind: 'not_found' });
    const settlement = answer(false, 'not now');
    const settled = await two.settle('alice', asked.callbackId, settlement);
    const decided = { ...asked, frame: null, state: 'rejected', proceed: false, feedback: 'not now', settledAt: settlement.settledAt };
    expect(settled).toMatchObject({ kind: 'settled', confirmation: decided });
    expect(await one.settle('alice', asked.callbackId, answer(true))).toEqual({ kind: 'already', confirmation: decided });
    expect(await one.get(asked.callbackId)).toEqual(decided);
    expect(await one.pendingForUser('alice')).toEqual([]);
    expect(await one.pendingForTask('task-1')).toEqual([]);
    expect(await one.pendingTotal()).toBe(0);
    expect(await one.involves('alice', 'task-1')).toBe(true);
  });

  it('keeps a confirmation\'s action-link grant (expiry and nonce) from creation through its decision, on every instance', async () => {
    const [one, two, three] = await backend.stores(LONG);
    const links = { expiresAt: Date.now() + 30_000, nonce: 'n0nce-AZ_09' };
    const asked = draft({ links });
    expect(await one.create(asked, ROOMY, null)).toEqual({ kind: 'created', confirmation: asked });
    expect((await two.get(asked.callbackId))?.links).toEqual(links);
    expect((await three.create(draft({ callbackId: asked.callbackId }), ROOMY, null))).toMatchObject({ kind: 'existing', confirmation: { links } });
    expect((await two.pendingForUser('alice'))[0].links).toEqual(links);
    const settled = await three.settle('alice', asked.callbackId, answer(true));
    expect(settled).toMatchObject({ kind: 'settled', confirmation: { links, state: 'confirmed' } });
    expect((await one.get(asked.callbackId))?.links).toEqual(links);
    // A confirmation created without links has none.
    const plain = draft();
    await one.create(plain, ROOMY, null);
    expect((await two.get(plain.callbackId))?.links).toBeUndefined();
  });

  it('settles one confirmation exactly once when three instances answer at the same moment', async () => {
    const stores = await backend.stores(LONG);
    const asked = draft();
    await stores[0].create(asked, ROOMY, null);
    const outcomes = await Promise.all(stores.flatMap((s) => [s.settle('alice', asked.callbackId, answer(true)), s.settle('alice', asked.callbackId, answer(false))]));
    expect(outcomes.filter((o) => o.kind === 'settled')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'already')).toHaveLength(5);
  });

  it('watch answers the confirmation as it stands, from any instance', async () => {
    const [one, two] = await backend.stores(LONG);
    const asked = draft();
    expect(await two.watch(asked, 'instance-b')).toBeUndefined();
    await one.create(asked, ROOMY, 'instance-a');
    expect(await two.watch(asked, 'instance-b')).toEqual(asked);
    await one.settle('alice', asked.callbackId, answer(false));
    expect(await two.watch(asked, 'instance-b')).toMatchObject({ callbackId: asked.callbackId, state: 'rejected', frame: null });
  });

  it('is idempotent by callback_id: the same confirmation for the same user and task, a conflict otherwise', async () => {
    const [one, two, three] = await backend.stores(LONG);
    const asked = draft({ callbackId: 'job-1.step-1' });
    await one.create(asked, ROOMY, null);
    const replay = draft({ callbackId: 'job-1.step-1', step: 9, message: 'ignored' });
    expect(await two.create(replay, ROOMY, null)).toEqual({ kind: 'existing', confirmation: asked });
    expect(await three.create(draft({ callbackId: 'job-1.step-1', userId: 'mallory' }), ROOMY, null)).toEqual({ kind: 'conflict' });
    expect(await three.create(draft({ callbackId: 'job-1.step-1', taskId: 'task-2' }), ROOMY, null)).toEqual({ kind: 'conflict' });
    const settlement = answer(true, 'ok');
    await one.settle('alice', asked.callbackId, settlement);
    const decided = { ...asked, frame: null, state: 'confirmed', proceed: true, feedback: 'ok', settledAt: settlement.settledAt };
    expect(await two.create(replay, ROOMY, null)).toEqual({ kind: 'existing', confirmation: decided });
    expect(await three.create(draft({ callbackId: 'job-1.step-1', userId: 'mallory' }), ROOMY, null)).toEqual({ kind: 'conflict' });
    expect(await one.pendingTotal()).toBe(0);
  });

  it('creates one confirmation when three instances create the same callback_id at once', async () => {
    const stores = await backend.stores(LONG);
    const outcomes = await Promise.all(stores.flatMap((s) => [s.create(draft({ callbackId: 'same' }), ROOMY, null), s.create(draft({ callbackId: 'same' }), ROOMY, null)]));
    expect(kinds(outcomes)).toEqual({ created: 1, existing: 5 });
    expect(await stores[0].pendingTotal()).toBe(1);
  });

  it('refuses a new confirmation past the per-user and total caps, but not a replay', async () => {
    const [one, two] = await backend.stores(LONG);
    const limits: CreateLimits = { maxPendingPerUser: 2, maxPendingTotal: 3 };
    const first = draft();
    expect((await one.create(first, limits, null)).kind).toBe('created');
    expect((await two.create(draft(), limits, null)).kind).toBe('created');
    expect(await one.create(draft(), limits, null)).toEqual({ kind: 'user_cap' });
    expect((await two.create(draft({ userId: 'bob' }), limits, null)).kind).toBe('created');
    expect(await one.create(draft({ userId: 'carol' }), limits, null)).toEqual({ kind: 'total_cap' });
    expect((await two.create(draft({ callbackId: first.callbackId }), limits, null)).kind).toBe('existing');
    expect(await one.pendingTotal()).toBe(3);
    // A refused create leaves nothing behind: its callback_id is free once there is room.
    const refused = draft({ userId: 'carol' });
    expect(await one.create(refused, limits, null)).toEqual({ kind: 'total_cap' });
    await two.settle('alice', first.callbackId, answer());
    expect((await one.create(refused, limits, null)).kind).toBe('created');
  });

  it('never passes the total cap: eight concurrent creates from three instances against a cap of five', async () => {
    const stores = await backend.stores(LONG);
    const limits: CreateLimits = { maxPendingPerUser: 100, maxPendingTotal: 5 };
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % 3].create(draft({ userId: `user-${i}` }), limits, null)));
    expect(kinds(outcomes)).toEqual({ created: 5, total_cap: 3 });
    expect(await stores[1].pendingTotal()).toBe(5);
  });

  it('never passes the per-user cap: eight concurrent creates from three instances against a cap of three', async () => {
    const stores = await backend.stores(LONG);
    const limits: CreateLimits = { maxPendingPerUser: 3, maxPendingTotal: 100 };
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % 3].create(draft(), limits, null)));
    expect(kinds(outcomes)).toEqual({ created: 3, user_cap: 5 });
    expect(await stores[2].pendingForUser('alice')).toHaveLength(3);
    expect(await stores[2].pendingTotal()).toBe(3);
  });

  it('creates a confirmation for a cancelled task cancelled, even at the caps (it is not pending)', async () => {
    const [one, two] = await backend.stores(LONG);
    const full: CreateLimits = { maxPendingPerUser: 1, maxPendingTotal: 1 };
    await one.create(draft({ taskId: 'other' }), full, null);
    await one.recordCancellation({ userId: 'alice', taskId: 'task-1', cancelledAt: Date.now() });
    const late = draft();
    const outcome = await two.create(late, full, null);
    const cancelled = { ...late, frame: null, state: 'cancelled', proceed: false, feedback: null, settledAt: late.createdAt };
    expect(outcome).toEqual({ kind: 'created', confirmation: cancelled });
    expect(await one.get(late.callbackId)).toEqual(cancelled);
    expect(await one.pendingTotal()).toBe(1);
    expect(await one.pendingForTask('task-1')).toEqual([]);
    expect(await one.involves('alice', 'task-1')).toBe(true);
    // Another user's cancellation is a separate record: bob is still asked (and capped).
    expect(await two.create(draft({ userId: 'bob' }), full, null)).toEqual({ kind: 'total_cap' });
  });

  it('keeps cancellations per user and tells the task\'s latest', async () => {
    const [one, two] = await backend.stores(LONG);
    const at = Date.now();
    await one.recordCancellation({ userId: 'alice', taskId: 'task-1', cancelledAt: at - 10 });
    await two.recordCancellation({ userId: 'bob', taskId: 'task-1', cancelledAt: at });
    expect(await one.cancellationOf('alice', 'task-1')).toEqual({ userId: 'alice', taskId: 'task-1', cancelledAt: at - 10 });
    expect(await one.cancellationOf('carol', 'task-1')).toBeUndefined();
    expect(await two.latestCancellationOf('task-1')).toEqual({ userId: 'bob', taskId: 'task-1', cancelledAt: at });
    await two.recordCancellation({ userId: 'alice', taskId: 'task-1', cancelledAt: at + 5 });
    expect(await one.latestCancellationOf('task-1')).toEqual({ userId: 'alice', taskId: 'task-1', cancelledAt: at + 5 });
    expect(await one.latestCancellationOf('task-2')).toBeUndefined();
  });

  it('forgets settled confirmations and cancellations once CONFIRMATION_RETENTION_SECONDS has passed', async () => {
    const [one, two] = await backend.stores({ retentionMs: 400, maxRetained: 1000 });
    const settledOne = draft({ taskId: 'task-a' });
    const pendingOne = draft({ taskId: 'task-b' });
    await one.create(settledOne, ROOMY, null);
    await one.create(pendingOne, ROOMY, null);
    await two.settle('alice', settledOne.callbackId, answer());
    await two.recordCancellation({ userId: 'alice', taskId: 'task-c', cancelledAt: Date.now() });
    await sleep(100);
    expect((await one.get(settledOne.callbackId))?.state).toBe('confirmed');
    expect(await one.involves('alice', 'task-a')).toBe(true);
    expect(await one.cancellationOf('alice', 'task-c')).toBeDefined();
    await sleep(600);
    expect(await one.get(settledOne.callbackId)).toBeUndefined();
    expect(await one.involves('alice', 'task-a')).toBe(false);
    expect(await two.cancellationOf('alice', 'task-c')).toBeUndefined();
    expect(await two.latestCancellationOf('task-c')).toBeUndefined();
    // A pending confirmation is never removed early, and its id is taken until then.
    expect((await two.get(pendingOne.callbackId))?.state).toBe('pending');
    expect(await one.involves('alice', 'task-b')).toBe(true);
    // A forgotten callback_id is free again, even for another user.
    expect((await two.create(draft({ callbackId: settledOne.callbackId, userId: 'bob' }), ROOMY, null)).kind).toBe('created');
  });

  it('keeps at most CONFIRMATION_MAX_RETAINED settled confirmations, the oldest dropped first', async () => {
    const [one, two, three] = await backend.stores({ retentionMs: 60_000, maxRetained: 2 });
    const asked = [draft({ taskId: 'task-1' }), draft({ taskId: 'task-2' }), draft({ taskId: 'task-3' })];
    for (const c of asked) await one.create(c, ROOMY, null);
    const stillPending = draft({ taskId: 'task-4' });
    await one.create(stillPending, ROOMY, null);
    for (const [i, c] of asked.entries()) {
      await [one, two, three][i].settle('alice', c.callbackId, answer());
      await sleep(5);
    }
    expect(await three.get(asked[0].callbackId)).toBeUndefined();
    expect(await three.involves('alice', 'task-1')).toBe(false);
    expect((await three.get(asked[1].callbackId))?.state).toBe('confirmed');
    expect((await three.get(asked[2].callbackId))?.state).toBe('confirmed');
    expect((await three.get(stillPending.callbackId))?.state).toBe('pending');
    // A confirmation born cancelled is a retained decision too.
    await two.recordCancellation({ userId: 'alice', taskId: 'task-9', cancelledAt: Date.now() });
    const late = draft({ taskId: 'task-9' });
    await two.create(late, ROOMY, null);
    expect(await one.get(asked[1].callbackId)).toBeUndefined();
    expect((await one.get(late.callbackId))?.state).toBe('cancelled');
    expect(await one.pendingTotal()).toBe(1);
    // The dropped id is free again.
    expect((await two.create(draft({ callbackId: asked[0].callbackId, userId: 'bob' }), ROOMY, null)).kind).toBe('created');
  });

  it('hands out values: changing what it returned changes nothing stored, and a settle changes nothing handed out', async () => {
    const [store] = await backend.stores(LONG);
    const asked = draft();
    const created = await store.create(asked, ROOMY, null);
    asked.state = 'confirmed';
    const read = (await store.get(asked.callbackId)) as Confirmation;
    if (created.kind === 'created') created.confirmation.state = 'rejected';
    read.feedback = 'tampered';
    (await store.pendingForUser('alice'))[0].proceed = true;
    (await store.pendingForTask('task-1'))[0].settledAt = 1;
    const fresh = (await store.get(asked.callbackId)) as Confirmation;
    expect(fresh).toMatchObject({ state: 'pending', proceed: null, feedback: null, settledAt: null });
    await store.settle('alice', asked.callbackId, answer(true, 'ok'));
    expect(fresh).toMatchObject({ state: 'pending', proceed: null, feedback: null, settledAt: null });
    expect(fresh.frame).not.toBeNull();
    const settled = (await store.get(asked.callbackId)) as Confirmation;
    settled.state = 'pending';
    expect((await store.get(asked.callbackId))?.state).toBe('confirmed');
  });
});
