import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Approval, Confirmation } from '../../src/confirmations/confirmation.js';
import { Ballot, ConfirmationStore, CreateLimits, CreateOutcome, Settlement, VoteOutcome } from '../../src/confirmations/confirmation.store.js';
import { MemoryConfirmationStore, RetentionSettings } from '../../src/confirmations/memory-confirmation.store.js';
import { RedisConfirmationStore } from '../../src/confirmations/redis-confirmation.store.js';
import { MAX_VOTES } from '../../src/approvals/approval-limits.js';
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

  it('keeps a callback_url and metadata through the decision; a plain confirmation has no such keys', async () => {
    const [one, two] = await backend.stores(LONG);
    const metadata = { order: 42, tags: ['a', 'b'], nested: { ok: true, none: null }, text: 'é "quoted"' };
    const asked = draft({ callbackUrl: 'https://hooks.example.com/in?k=1', metadata });
    expect(await one.create(asked, ROOMY, null)).toEqual({ kind: 'created', confirmation: asked });
    expect(await two.get(asked.callbackId)).toEqual(asked);
    expect(await two.pendingForUser('alice')).toEqual([asked]);
    const settled = await two.settle('alice', asked.callbackId, answer(false));
    expect(settled.kind === 'settled' && settled.confirmation).toMatchObject({ callbackUrl: asked.callbackUrl, metadata, state: 'rejected' });
    expect(await one.get(asked.callbackId)).toMatchObject({ callbackUrl: asked.callbackUrl, metadata });
    const plain = draft();
    await one.create(plain, ROOMY, null);
    const read = (await two.get(plain.callbackId)) as Confirmation;
    expect('callbackUrl' in read || 'metadata' in read).toBe(false);
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

  it('keeps a trace context given at creation with the record, from any instance and after the settle; none when none was given', async () => {
    const [one, two] = await backend.stores(LONG);
    const traceContext = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nvendor=opaque value';
    const traced = draft({ traceContext });
    expect(await one.create(traced, ROOMY, null)).toEqual({ kind: 'created', confirmation: traced });
    expect(await two.get(traced.callbackId)).toEqual(traced);
    expect(await two.pendingForUser('alice')).toEqual([traced]);
    expect(await two.create(draft({ callbackId: traced.callbackId }), ROOMY, null)).toEqual({ kind: 'existing', confirmation: traced });
    const settled = await two.settle('alice', traced.callbackId, answer());
    expect(settled).toMatchObject({ kind: 'settled', confirmation: { traceContext, state: 'confirmed' } });
    expect(await one.get(traced.callbackId)).toMatchObject({ traceContext, state: 'confirmed' });
    const plain = draft();
    await one.create(plain, ROOMY, null);
    const read = await two.get(plain.callbackId);
    expect(read).toEqual(plain);
    expect(read).not.toHaveProperty('traceContext');
    const plainSettled = await two.settle('alice', plain.callbackId, answer());
    expect(plainSettled.kind === 'settled' && plainSettled.confirmation).not.toHaveProperty('traceContext');
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

  approvalContract(backend);
});

/** A draft with approvals, as ConfirmationService makes it: votes [] and no decision yet. */
function approvalDraft(approval: Approval, overrides: Partial<Confirmation> = {}): Confirmation {
  const base = draft(overrides);
  return { ...base, frame: { ...(base.frame as NonNullable<Confirmation['frame']>), policy: approval.policy }, approval, votes: [], option: null, data: null, decidedBy: null };
}

const yes = (option: string | null = null, data: Record<string, unknown> | null = null, feedback: string | null = null): Ballot => ({ proceed: true, option, data, feedback });
const no = (feedback: string | null = null): Ballot => ({ proceed: false, option: null, data: null, feedback });
const voter = (userId: string, groups: string[] = []) => ({ userId, groups });
const ids = (list: Confirmation[]) => list.map((c) => c.callbackId).sort();

/** Inside the backend's describe above: a backend starts once per file. */
function approvalContract(backend: (typeof backends)[number][1]): void {
  describe('approvals', () => {
    it('keeps a plain confirmation plain: no approval fields, and settle answers it as before', async () => {
      const [store] = await backend.stores(LONG);
      const asked = draft();
      await store.create(asked, ROOMY, null);
      const read = (await store.get(asked.callbackId)) as Confirmation;
      expect(read).toEqual(asked);
      for (const field of ['approval', 'votes', 'option', 'data', 'decidedBy']) expect(read).not.toHaveProperty(field);
      // vote on a plain one: its own user, first answer wins.
      expect((await store.vote(asked.callbackId, voter('bob'), yes(), Date.now())).kind).toBe('not_an_approver');
      const settled = await store.vote(asked.callbackId, voter('alice'), no('nope'), Date.now());
      expect(settled).toMatchObject({ kind: 'settled', confirmation: { state: 'rejected', proceed: false, feedback: 'nope' } });
    });

    it('stores an approval and hands it back; settle of an answer says it needs a vote, a timeout settles it', async () => {
      const [one, two] = await backend.stores(LONG);
      const approval: Approval = {
        policy: 'quorum', quorum: 2, approvers: { users: ['alice', 'bob', 'carol'], groups: [] },
        options: [{ id: 'go', label: 'Go', proceed: true }, { id: 'stop', label: 'Stop', proceed: false }],
        form: { type: 'object', properties: { n: { type: 'integer', default: 3 } } }, forbiddenVoter: 'dave',
      };
      const asked = approvalDraft(approval);
      expect(await one.create(asked, ROOMY, null)).toEqual({ kind: 'created', confirmation: asked });
      expect(await two.get(asked.callbackId)).toEqual(asked);
      const needsVote = await two.settle('alice', asked.callbackId, answer(true));
      expect(needsVote).toEqual({ kind: 'needs_vote', confirmation: asked });
      // Still pending and still counted: the answer took nothing away.
      expect(await one.pendingTotal()).toBe(1);
      expect(await one.get(asked.callbackId)).toEqual(asked);
      const timedOut = await two.settle('alice', asked.callbackId, { state: 'timed_out', proceed: false, feedback: null, settledAt: Date.now() });
      expect(timedOut).toMatchObject({ kind: 'settled', confirmation: { state: 'timed_out', decidedBy: null, option: null, data: null, votes: [] } });
    });

    it('policy any: the first approver settles with its option, data and feedback; later voters find it settled', async () => {
      const [one, two, three] = await backend.stores(LONG);
      const asked = approvalDraft({ policy: 'any', approvers: { users: ['bob', 'carol'], groups: [] } });
      await one.create(asked, ROOMY, null);
      expect((await two.vote(asked.callbackId, voter('alice'), yes(), Date.now())).kind).toBe('not_an_approver');
      const at = Date.now();
      const outcome = await two.vote(asked.callbackId, voter('carol'), yes('go', { n: 4, note: 'ünïcode', big: 12345678901234567 }, 'fine'), at);
      expect(outcome).toMatchObject({
        kind: 'settled',
        confirmation: { state: 'confirmed', proceed: true, feedback: 'fine', option: 'go', data: { n: 4, note: 'ünïcode', big: 12345678901234567 }, decidedBy: 'carol', votes: [{ userId: 'carol', proceed: true, option: 'go', at }] },
      });
      expect(await three.get(asked.callbackId)).toEqual((outcome as { confirmation: Confirmation }).confirmation);
      expect((await three.vote(asked.callbackId, voter('bob'), no(), Date.now())).kind).toBe('already');
      expect((await three.vote('unknown-id', voter('bob'), no(), Date.now())).kind).toBe('not_found');
    });

    it('policy all: every listed user must approve; one rejection rejects; a second vote is refused', async () => {
      const [one, two, three] = await backend.stores(LONG);
      const approval: Approval = { policy: 'all', approvers: { users: ['bob', 'carol', 'erin'], groups: [] } };
      const first = approvalDraft(approval);
      await one.create(first, ROOMY, null);
      expect(await two.vote(first.callbackId, voter('bob'), yes(), Date.now())).toMatchObject({ kind: 'recorded', needed: 2, votes: [{ userId: 'bob', proceed: true }] });
      expect((await three.vote(first.callbackId, voter('bob'), yes(), Date.now())).kind).toBe('already_voted');
      expect(await three.vote(first.callbackId, voter('carol'), yes(), Date.now())).toMatchObject({ kind: 'recorded', needed: 1 });
      expect(await one.vote(first.callbackId, voter('erin'), yes(), Date.now())).toMatchObject({ kind: 'settled', confirmation: { state: 'confirmed', decidedBy: 'erin' } });

      const second = approvalDraft(approval);
      await one.create(second, ROOMY, null);
      await two.vote(second.callbackId, voter('bob'), yes(), Date.now());
      const rejected = await three.vote(second.callbackId, voter('carol'), no('too risky'), Date.now());
      expect(rejected).toMatchObject({ kind: 'settled', confirmation: { state: 'rejected', proceed: false, feedback: 'too risky', decidedBy: 'carol' } });
      expect((rejected as { confirmation: Confirmation }).confirmation.votes?.map((v) => [v.userId, v.proceed])).toEqual([['bob', true], ['carol', false]]);
    });

    it('policy quorum: k approvals confirm; rejections settle once k cannot be reached; with groups only approvals settle', async () => {
      const [one, two] = await backend.stores(LONG);
      const closed = approvalDraft({ policy: 'quorum', quorum: 2, approvers: { users: ['bob', 'carol', 'erin'], groups: [] } });
      await one.create(closed, ROOMY, null);
      expect(await two.vote(closed.callbackId, voter('bob'), no(), Date.now())).toMatchObject({ kind: 'recorded', needed: 2 });
      expect(await two.vote(closed.callbackId, voter('carol'), no(), Date.now())).toMatchObject({ kind: 'settled', confirmation: { state: 'rejected', decidedBy: 'carol' } });

      const reached = approvalDraft({ policy: 'quorum', quorum: 2, approvers: { users: ['bob', 'carol', 'erin'], groups: [] } });
      await one.create(reached, ROOMY, null);
      await two.vote(reached.callbackId, voter('bob'), yes(), Date.now());
      await two.vote(reached.callbackId, voter('carol'), no(), Date.now());
      expect(await one.vote(reached.callbackId, voter('erin'), yes('go', { n: 1 }), Date.now())).toMatchObject({ kind: 'settled', confirmation: { state: 'confirmed', option: 'go', data: { n: 1 }, decidedBy: 'erin' } });

      const open = approvalDraft({ policy: 'quorum', quorum: 1, approvers: { users: ['bob'], groups: ['ops'] } });
      await one.create(open, ROOMY, null);
      expect((await two.vote(open.callbackId, voter('zed', ['sales']), yes(), Date.now())).kind).toBe('not_an_approver');
      expect(await two.vote(open.callbackId, voter('bob'), no(), Date.now())).toMatchObject({ kind: 'recorded', needed: 1 });
      expect(await two.vote(open.callbackId, voter('zed', ['sales', 'ops']), yes(), Date.now())).toMatchObject({ kind: 'settled', confirmation: { state: 'confirmed', decidedBy: 'zed' } });
    });

    it('forbid_self: the requesting user cannot vote even when listed', async () => {
      const [one, two] = await backend.stores(LONG);
      const asked = approvalDraft({ policy: 'any', approvers: { users: ['alice', 'bob'], groups: [] }, forbiddenVoter: 'alice' });
      await one.create(asked, ROOMY, null);
      expect((await two.vote(asked.callbackId, voter('alice'), yes(), Date.now())).kind).toBe('self_forbidden');
      expect((await two.get(asked.callbackId))?.state).toBe('pending');
      expect((await two.vote(asked.callbackId, voter('bob'), yes(), Date.now())).kind).toBe('settled');
    });

    it('pendingForApprover lists what a user may answer, as a listed user or a group member, until it settles', async () => {
      const [one, two, three] = await backend.stores(LONG);
      const byUser = approvalDraft({ policy: 'any', approvers: { users: ['bob'], groups: [] } });
      const byGroup = approvalDraft({ policy: 'any', approvers: { users: [], groups: ['ops'] } }, { userId: 'zoe' });
      const plain = draft({ userId: 'bob' });
      await Promise.all([one.create(byUser, ROOMY, null), two.create(byGroup, ROOMY, null), one.create(plain, ROOMY, null)]);
      expect(ids(await three.pendingForApprover('bob', []))).toEqual([byUser.callbackId]);
      expect(ids(await three.pendingForApprover('bob', ['ops']))).toEqual(ids([byUser, byGroup]));
      expect(ids(await three.pendingForApprover('carol', ['ops', 'x']))).toEqual([byGroup.callbackId]);
      expect(await three.pendingForApprover('carol', [])).toEqual([]);
      await two.vote(byGroup.callbackId, voter('carol', ['ops']), yes(), Date.now());
      expect(ids(await three.pendingForApprover('bob', ['ops']))).toEqual([byUser.callbackId]);
    });

    it('addApprovers adds users and groups to a pending one (new ones only, so a repeat is harmless), lists it for them, and refuses a settled one', async () => {
      const [one, two, three] = await backend.stores(LONG);
      const asked = approvalDraft({ policy: 'any', approvers: { users: ['bob'], groups: [] } });
      await one.create(asked, ROOMY, null);
      const added = await two.addApprovers(asked.callbackId, ['bob', 'carol'], ['ops']);
      expect(added).toMatchObject({ kind: 'added', users: ['carol'], groups: ['ops'], confirmation: { approval: { approvers: { users: ['bob', 'carol'], groups: ['ops'] } } } });
      expect((await three.get(asked.callbackId))?.approval?.approvers).toEqual({ users: ['bob', 'carol'], groups: ['ops'] });
      expect(ids(await three.pendingForApprover('carol', []))).toEqual([asked.callbackId]);
      expect(ids(await three.pendingForApprover('x', ['ops']))).toEqual([asked.callbackId]);
      // The same escalation again (a scheduled step run twice): nothing new, nothing changed.
      expect(await three.addApprovers(asked.callbackId, ['carol', 'bob'], ['ops'])).toMatchObject({ kind: 'added', users: [], groups: [], confirmation: { approval: { approvers: { users: ['bob', 'carol'], groups: ['ops'] } } } });
      // Without approvers only the user answered: adding some keeps the user among them.
      const plainish = approvalDraft({ policy: 'any', options: [{ id: 'a', label: 'A', proceed: true }] });
      await one.create(plainish, ROOMY, null);
      expect(await two.addApprovers(plainish.callbackId, ['dave'], [])).toMatchObject({ kind: 'added', users: ['dave'], confirmation: { approval: { approvers: { users: ['alice', 'dave'], groups: [] } } } });
      expect((await three.vote(asked.callbackId, voter('y', ['ops']), no(), Date.now())).kind).toBe('settled');
      expect((await two.addApprovers(asked.callbackId, ['erin'], [])).kind).toBe('already');
      expect((await two.addApprovers('unknown-id', ['erin'], [])).kind).toBe('not_found');
    });

    it('keeps at most MAX_VOTES votes: an open electorate (groups) cannot grow a record without bound', async () => {
      const stores = await backend.stores(LONG);
      // Quorum out of reach and a group: rejections only pile up.
      const open = approvalDraft({ policy: 'quorum', quorum: 1, approvers: { users: [], groups: ['crowd'] } });
      await stores[0].create(open, ROOMY, null);
      // In batches of 100 concurrent votes: a whole burst at once only measures the machine.
      const outcomes: VoteOutcome[] = [];
      for (let from = 0; from < MAX_VOTES + 5; from += 100) {
        const batch = Array.from({ length: Math.min(100, MAX_VOTES + 5 - from) }, (_, k) => from + k);
        outcomes.push(...(await Promise.all(batch.map((i) => stores[i % 3].vote(open.callbackId, voter(`m${i}`, ['crowd']), no(), Date.now())))));
      }
      expect(outcomes.filter((o) => o.kind === 'recorded')).toHaveLength(MAX_VOTES);
      expect(outcomes.filter((o) => o.kind === 'votes_full')).toHaveLength(5);
      expect((await stores[1].get(open.callbackId))?.votes).toHaveLength(MAX_VOTES);
    }, 60_000);

    it('many concurrent votes from three instances: one decision, no vote lost', async () => {
      const stores = await backend.stores(LONG);
      const users = Array.from({ length: 12 }, (_, i) => `v${i}`);
      for (let round = 0; round < 5; round++) {
        // all: every vote counts and exactly the last one settles.
        const all = approvalDraft({ policy: 'all', approvers: { users, groups: [] } });
        await stores[0].create(all, ROOMY, null);
        const outcomes: VoteOutcome[] = await Promise.all(users.map((u, i) => stores[i % 3].vote(all.callbackId, voter(u), yes(), Date.now())));
        expect(outcomes.filter((o) => o.kind === 'settled')).toHaveLength(1);
        expect(outcomes.filter((o) => o.kind === 'recorded')).toHaveLength(users.length - 1);
        const settled = (await stores[1].get(all.callbackId)) as Confirmation;
        expect(settled.state).toBe('confirmed');
        expect(settled.votes?.map((v) => v.userId).sort()).toEqual([...users].sort());
        // any: exactly one settles, everyone else is told it is settled.
        const any = approvalDraft({ policy: 'any', approvers: { users, groups: [] } });
        await stores[0].create(any, ROOMY, null);
        const raced: VoteOutcome[] = await Promise.all(users.map((u, i) => stores[i % 3].vote(any.callbackId, voter(u), i % 2 === 0 ? yes() : no(), Date.now())));
        expect(raced.filter((o) => o.kind === 'settled')).toHaveLength(1);
        expect(raced.filter((o) => o.kind === 'already')).toHaveLength(users.length - 1);
        // The same voter from three instances at once: one vote.
        const twice = approvalDraft({ policy: 'quorum', quorum: 2, approvers: { users: ['bob', 'carol'], groups: [] } });
        await stores[0].create(twice, ROOMY, null);
        const same = await Promise.all(stores.map((s) => s.vote(twice.callbackId, voter('bob'), yes(), Date.now())));
        expect(same.map((o) => o.kind).sort()).toEqual(['already_voted', 'already_voted', 'recorded']);
      }
    });
  });
}
