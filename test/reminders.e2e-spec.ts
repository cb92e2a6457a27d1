import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { RedisService } from '../src/redis/redis.service.js';
import { RedisScheduleStore } from '../src/schedule/redis-schedule.store.js';
import { LEASE_MS } from '../src/schedule/scheduler.service.js';
import { Cluster, sleep, startCluster } from './support/cluster.js';
import { waitFor } from './support/processes.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody, startTestApp, TestApp } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

const remindersOf = (frames: Array<Record<string, any>>, callbackId: string) =>
  frames.filter((f) => f.type === 'task_step_result' && f.callback_id === callbackId).map((f) => f.reminder ?? 0);

/** When nobody answers: reminders, and HTTP calls held at most NOTIFY_MAX_WAIT_SECONDS (PROTOCOL "Reminders", "Holding HTTP calls"). */
describe('reminders and held calls (memory)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ NOTIFY_MAX_WAIT_SECONDS: 1 });
  });
  afterAll(async () => {
    await t.close();
  });

  it('reminds with n = 1..max about every every_seconds, the same prompt, then no more', async () => {
    const tab = await t.connect('rita');
    const started = Date.now();
    const reply = await t.http('POST', '/notify?wait=false', notifyBody('rita', 'task-r', { callback_id: 'r-1', timeout_seconds: 30, reminders: { every_seconds: 1, max: 3 } }));
    expect(reply.status).toBe(202);
    const prompt = await tab.next('task_step_result');
    expect(prompt).not.toHaveProperty('reminder');
    const arrivals: number[] = [];
    for (let n = 1; n <= 3; n++) {
      const reminder = await tab.next('task_step_result', 5000);
      arrivals.push(Date.now() - started);
      const { reminder: seen, offset: _o, ...same } = reminder;
      const { offset: _p, ...original } = prompt;
      expect(seen).toBe(n);
      expect(same).toEqual(original);
    }
    expect(arrivals[0]).toBeGreaterThanOrEqual(950);
    expect(arrivals[2]).toBeGreaterThanOrEqual(2950);
    await sleep(1600);
    await tab.settled();
    expect(remindersOf(tab.frames, 'r-1')).toEqual([0, 1, 2, 3]);
    expect((await t.http('GET', '/confirmations/r-1')).body.state).toBe('pending');
  }, 20_000);

  it('stops reminding once the confirmation is settled', async () => {
    const tab = await t.connect('sam');
    await t.http('POST', '/notify?wait=false', notifyBody('sam', 'task-s', { callback_id: 's-1', timeout_seconds: 30, reminders: { every_seconds: 1, max: 10 } }));
    await tab.next('task_step_result');
    expect((await tab.next('task_step_result', 5000)).reminder).toBe(1);
    tab.send({ action: 'confirm', callback_id: 's-1', proceed: true });
    await tab.next('confirmation_accepted');
    await sleep(2500);
    await tab.settled();
    expect(remindersOf(tab.frames, 's-1')).toEqual([0, 1]);
  }, 20_000);

  it('answers 202 with Location after NOTIFY_MAX_WAIT_SECONDS; the long poll there gets the decision', async () => {
    const tab = await t.connect('hal');
    const started = Date.now();
    const held = await t.http('POST', '/notify', notifyBody('hal', 'task-h', { callback_id: 'h-1', timeout_seconds: 60 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(held.status).toBe(202);
    expect(held.headers.get('location')).toBe('/confirmations/h-1');
    expect(held.body).toEqual({ callback_id: 'h-1', state: 'pending', status: 'pending', expires_at: expect.any(Number) });
    await tab.next('task_step_result');
    // wait_seconds above NOTIFY_MAX_WAIT_SECONDS is accepted and held at most that long.
    const polled = Date.now();
    expect((await t.http('GET', '/confirmations/h-1?wait_seconds=30')).body.state).toBe('pending');
    expect(Date.now() - polled).toBeLessThan(5000);
    const poll = t.http('GET', `${held.headers.get('location')}?wait_seconds=30`);
    await sleep(200);
    tab.send({ action: 'confirm', callback_id: 'h-1', proceed: false, feedback: 'not now' });
    expect((await poll).body).toMatchObject({ callback_id: 'h-1', state: 'rejected', proceed: false, feedback: 'not now' });
  }, 20_000);

  it('escalation: after after_seconds without a decision, the listed user becomes an approver and receives the prompt', async () => {
    const [alice, bob, carol] = [await t.connect('esc-alice'), await t.connect('esc-bob'), await t.connect('esc-carol')];
    const started = Date.now();
    await t.http('POST', '/notify?wait=false', notifyBody('esc-alice', 'task-e', { callback_id: 'e-1', timeout_seconds: 30, escalation: [{ after_seconds: 1, users: ['esc-bob'] }, { after_seconds: 25, users: ['esc-carol'] }] }));
    const prompt = await alice.next('task_step_result');
    const escalated = await bob.next('task_step_result', 5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(escalated).toMatchObject({ callback_id: 'e-1', user_id: 'esc-alice', task_id: 'task-e', message: prompt.message, approvers: { users: ['esc-alice', 'esc-bob'], groups: [] } });
    // The added approver may answer, and the answer settles it (policy any).
    const decision = t.http('GET', '/confirmations/e-1?wait_seconds=5');
    bob.send({ action: 'confirm', callback_id: 'e-1', proceed: true, feedback: 'covered for alice' });
    await bob.next('confirmation_accepted');
    expect((await decision).body).toMatchObject({ state: 'confirmed', proceed: true, feedback: 'covered for alice', decided_by: 'esc-bob' });
    await carol.settled();
    expect(carol.ofType('task_step_result')).toHaveLength(0);
  }, 20_000);

  it('reminds every approver, not only the user', async () => {
    const [owner, approver] = [await t.connect('rem-owner'), await t.connect('rem-approver')];
    await t.http('POST', '/notify?wait=false', notifyBody('rem-owner', 'task-ra', { callback_id: 'ra-1', timeout_seconds: 30, approvers: { users: ['rem-approver'] }, reminders: { every_seconds: 1, max: 1 } }));
    for (const tab of [owner, approver]) {
      await tab.next('task_step_result');
      expect(await tab.next('task_step_result', 5000)).toMatchObject({ callback_id: 'ra-1', reminder: 1, approvers: { users: ['rem-approver'] } });
    }
  }, 20_000);

  it('refuses reminders out of bounds with a 400 saying which', async () => {
    for (const reminders of [{ every_seconds: 0.5, max: 2 }, { every_seconds: 1, max: 0 }, { every_seconds: 1, max: 101 }, { every_seconds: 1 }, null, 'often']) {
      const reply = await t.http('POST', '/notify?wait=false', notifyBody('val', 'task-v', { reminders }));
      expect(reply.status).toBe(400);
      expect(reply.body.message).toMatch(/reminders/);
    }
    const steps = (n: number) => Array.from({ length: n }, () => ({ after_seconds: 1, users: ['x'] }));
    for (const escalation of [steps(11), [{ after_seconds: 0, users: ['x'] }], [{ users: ['x'] }], [{ after_seconds: 1, users: [''] }], [{ after_seconds: 1, roles: ['x'] }], [{ after_seconds: 1, users: Array.from({ length: 101 }, (_, i) => `u${i}`) }], { after_seconds: 1 }]) {
      const reply = await t.http('POST', '/notify?wait=false', notifyBody('val', 'task-v', { escalation }));
      expect(reply.status).toBe(400);
      expect(reply.body.message).toMatch(/escalation/);
    }
  });
});

(haveRedis ? describe : describe.skip)('reminders in cluster mode', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('a SIGKILLed creator\'s reminders, escalation and expiry each happen exactly once, from the instances left', async () => {
    cluster = await startCluster(3);
    const [a, b, c] = cluster.instances;
    const tabs = [await b.connect('kai'), await c.connect('kai')];
    const boss = await c.connect('kai-boss');
    const created = await a.http('POST', '/notify?wait=false', notifyBody('kai', 'task-k', { callback_id: 'k-1', timeout_seconds: 4, reminders: { every_seconds: 1.2, max: 5 }, escalation: [{ after_seconds: 2, users: ['kai-boss'] }] }));
    expect(created.status).toBe(202);
    for (const tab of tabs) await tab.next('task_step_result');
    await a.stop('SIGKILL');
    // Runs before the expiry only: 1.2, 2.4 and 3.6 s; then the expiry, all from b or c.
    for (const tab of tabs) expect((await tab.next('confirmation_resolved', 8000)).state).toBe('timed_out');
    await sleep(2500);
    for (const tab of tabs) {
      await tab.settled();
      expect(remindersOf(tab.frames, 'k-1')).toEqual([0, 1, 2, 3]);
      expect(tab.ofType('confirmation_resolved')).toHaveLength(1);
    }
    // The escalation step ran once too: its approver got the prompt once, then the reminders
    // from then on (reminder 2, due 0.4 s after it, may be claimed in the same batch and miss it).
    await boss.settled();
    const seen = remindersOf(boss.frames, 'k-1');
    expect(seen[0]).toBe(0);
    expect([[0, 3], [0, 2, 3]]).toContainEqual(seen);
    expect(boss.ofType('confirmation_resolved')).toHaveLength(1);
  }, 60_000);

  it('a reminder claimed by an instance that dies before sending it is sent after the lease, once, by another', async () => {
    cluster = await startCluster(2);
    const [a, b] = cluster.instances;
    const tab = await b.connect('max');
    const created = await a.http('POST', '/notify?wait=false', notifyBody('max', 'task-m', { callback_id: 'm-1', timeout_seconds: 60, reminders: { every_seconds: 1, max: 1 } }));
    expect(created.status).toBe(202);
    await tab.next('task_step_result');
    // The doomed claimer: a third instance's store on the same Redis claims the reminder as it
    // falls due (a second early, before a or b do) and never completes it, as if SIGKILLed.
    const claimedAt = Date.now();
    const doomed = new RedisService({ url: cluster.redis.url, cluster: false, keyPrefix: 'cgw:', commandTimeoutMs: 2000 }, randomUUID());
    try {
      await waitFor(() => doomed.commands.status === 'ready', 5000, 'the doomed claimer to connect');
      const claimed = await new RedisScheduleStore(doomed).claimDue(claimedAt + 1000, LEASE_MS, 10);
      expect(claimed.map((r) => [r.job.callbackId, r.job.kind, r.run])).toEqual([['m-1', 'reminder', 1]]);
    } finally {
      await doomed.onApplicationShutdown();
    }
    // Nobody sends it during the lease; then a or b claims it again and sends reminder 1, once.
    const reminded = await tab.next('task_step_result', LEASE_MS + 5000);
    expect(reminded.reminder).toBe(1);
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(LEASE_MS + 1000 - 100);
    await sleep(2500);
    await tab.settled();
    expect(remindersOf(tab.frames, 'm-1')).toEqual([0, 1]);
  }, 60_000);

  it('NOTIFY_MAX_WAIT_SECONDS=1: 202 from one instance, the decision by a long poll on another', async () => {
    cluster = await startCluster(2, { NOTIFY_MAX_WAIT_SECONDS: '1' });
    const [a, b] = cluster.instances;
    const tab = await b.connect('lia');
    const held = await a.http('POST', '/notify', notifyBody('lia', 'task-l', { callback_id: 'l-1', timeout_seconds: 60 }));
    expect(held.status).toBe(202);
    expect(held.headers.get('location')).toBe('/confirmations/l-1');
    await tab.next('task_step_result');
    const poll = b.http('GET', '/confirmations/l-1?wait_seconds=50');
    await sleep(300);
    tab.send({ action: 'confirm', callback_id: 'l-1', proceed: true });
    expect((await poll).body).toMatchObject({ callback_id: 'l-1', state: 'confirmed', proceed: true });
  }, 60_000);
});
