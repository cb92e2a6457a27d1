import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { ConfirmationService } from '../src/confirmations/confirmation.service.js';
import { Cluster, startCluster, startOnRedisCluster } from './support/cluster.js';
import { requireProgram } from './support/system-dependency.js';
import { HttpResult, notifyBody, startTestApp, TestApp } from './support/test-app.js';
import { TestClient } from './support/test-client.js';

/**
 * Approvals (issue 21), end to end: options, forms, several approvers and their policies,
 * groups, forbid_self, in memory and on three instances sharing a Redis (and a Redis Cluster),
 * where a vote given on one instance must count the same as one given on another.
 */

interface Deployment {
  /** The HTTP API of instance `i` (memory: the one app). */
  http(i: number, method: string, path: string, body?: unknown): Promise<HttpResult>;
  /** A socket on instance `i` as the user, with `?groups=` when given. */
  connect(i: number, userId: string, groups?: string[]): Promise<TestClient>;
  close(): Promise<void>;
}

async function memoryDeployment(): Promise<Deployment & { app: TestApp }> {
  const app = await startTestApp();
  return {
    app,
    http: (_i, method, path, body) => app.http(method, path, body),
    connect: (_i, userId, groups) => app.connect(undefined, `/?user_id=${encodeURIComponent(userId)}${groups ? `&groups=${groups.map(encodeURIComponent).join(',')}` : ''}`),
    close: () => app.close(),
  };
}

async function clusterDeployment(start: (size: number, env: Record<string, string>) => Promise<Cluster>): Promise<Deployment> {
  const cluster = await start(3, {});
  const opened: TestClient[] = [];
  const instance = (i: number) => cluster.instances[i % cluster.instances.length];
  return {
    http: (i, method, path, body) => instance(i).http(method, path, body),
    async connect(i, userId, groups) {
      const client = await TestClient.open(`${instance(i).wsUrl}/?user_id=${encodeURIComponent(userId)}${groups ? `&groups=${groups.map(encodeURIComponent).join(',')}` : ''}`);
      opened.push(client);
      await client.next('connected');
      return client;
    },
    async close() {
      for (const client of opened) client.terminate();
      await cluster.close();
    },
  };
}

const haveRedis = requireProgram('redis-server', 'redis-server') && requireProgram('redis-cli', 'redis-tools');

const deployments: Array<[string, () => Promise<Deployment>]> = [
  ['memory', memoryDeployment],
  ...(haveRedis
    ? ([
        ['three instances on one Redis', () => clusterDeployment(startCluster)],
        ['three instances on a Redis Cluster', () => clusterDeployment(startOnRedisCluster)],
      ] as Array<[string, () => Promise<Deployment>]>)
    : []),
];

const FORM = {
  type: 'object',
  title: 'Deployment',
  properties: {
    replicas: { type: 'integer', minimum: 1, maximum: 10, default: 3, title: 'Replicas' },
    region: { type: 'string', enum: ['eu', 'us'], enumNames: ['Europe', 'United States'], default: 'eu' },
    note: { type: 'string', maxLength: 20 },
    notify: { type: 'boolean', default: false },
  },
  required: ['replicas', 'region'],
};

const OPTIONS = [
  { id: 'canary', label: 'Canary first', proceed: true },
  { id: 'full', label: 'Everything now', description: 'All regions at once', proceed: true },
  { id: 'abort', label: 'Abort', proceed: false },
];

describe.each(deployments)('approvals on %s', (_name, start) => {
  let d: Deployment;
  const id = () => `ap-${randomUUID().slice(0, 8)}`;
  const user = (name: string) => `${name}-${randomUUID().slice(0, 6)}`;

  beforeAll(async () => {
    d = await start();
  }, 200_000);
  afterAll(() => d?.close(), 30_000);

  it('offers options: the prompt carries them, the chosen one decides and comes back in the decision', async () => {
    const alice = user('alice');
    const tab = await d.connect(1, alice);
    const callbackId = id();
    const waiting = d.http(0, 'POST', '/notify', notifyBody(alice, 'deploy', { callback_id: callbackId, options: OPTIONS }));
    const prompt = await tab.next('task_step_result');
    expect(prompt).toMatchObject({ callback_id: callbackId, options: OPTIONS });
    expect(prompt).not.toHaveProperty('approvers');

    tab.send({ action: 'confirm', callback_id: callbackId, option: 'nope' });
    expect(await tab.next('error')).toMatchObject({ code: 'invalid_answer', field: 'option' });
    tab.send({ action: 'confirm', callback_id: callbackId, option: 'abort', proceed: true });
    expect(await tab.next('error')).toMatchObject({ code: 'invalid_answer', field: 'proceed' });

    expect(await tab.request({ action: 'confirm', callback_id: callbackId, option: 'canary', feedback: 'careful' }, 'confirmation_accepted')).toMatchObject({ proceed: true });
    const decision = await waiting;
    expect(decision.status).toBe(200);
    expect(decision.body).toEqual({
      callback_id: callbackId, state: 'confirmed', proceed: true, feedback: 'careful', timed_out: false, cancelled: false,
      option: 'canary', data: null, decided_by: alice, votes: [{ user_id: alice, proceed: true, option: 'canary', at: expect.any(Number) }],
    });
  });

  it('takes a form: defaults are proposed, edited data is accepted and returned', async () => {
    const alice = user('alice');
    const tab = await d.connect(2, alice);
    const callbackId = id();
    const waiting = d.http(0, 'POST', '/notify', notifyBody(alice, 'deploy', { callback_id: callbackId, form: FORM }));
    expect(await tab.next('task_step_result')).toMatchObject({ callback_id: callbackId, form: FORM });
    await tab.request({ action: 'confirm', callback_id: callbackId, proceed: true, data: { replicas: 5, note: 'edited' } }, 'confirmation_accepted');
    const decision = await waiting;
    expect(decision.body).toMatchObject({ state: 'confirmed', data: { replicas: 5, region: 'eu', note: 'edited', notify: false }, decided_by: alice });
    expect((await d.http(1, 'GET', `/confirmations/${callbackId}`)).body).toMatchObject({ state: 'confirmed', data: { replicas: 5, note: 'edited' } });
  });

  it('refuses invalid form data with an error naming the field, and settles nothing', async () => {
    const alice = user('alice');
    const tab = await d.connect(1, alice);
    const callbackId = id();
    await d.http(0, 'POST', '/notify?wait=false', notifyBody(alice, 'deploy', { callback_id: callbackId, form: FORM }));
    await tab.next('task_step_result');
    for (const [data, field] of [[{ replicas: 50 }, 'replicas'], [{ replicas: 2, region: 'mars' }, 'region'], [{ replicas: 2, extra: 1 }, 'extra'], [{ replicas: 2, note: 'x'.repeat(21) }, 'note']] as const) {
      tab.send({ action: 'confirm', callback_id: callbackId, proceed: true, data });
      const error = await tab.next('error');
      expect(error).toMatchObject({ code: 'invalid_answer', field, action: 'confirm' });
      expect(error.message).toContain(field);
    }
    tab.send({ action: 'confirm', callback_id: callbackId, proceed: true });
    expect(await tab.next('error')).toMatchObject({ code: 'invalid_answer', field: 'data' });
    expect((await d.http(2, 'GET', `/confirmations/${callbackId}`)).body).toMatchObject({ state: 'pending', votes: [] });
    // A rejection needs no data (what it carries is ignored).
    await tab.request({ action: 'confirm', callback_id: callbackId, proceed: false, data: { replicas: 99 } }, 'confirmation_accepted');
    expect((await d.http(2, 'GET', `/confirmations/${callbackId}`)).body).toMatchObject({ state: 'rejected', data: null });
  });

  it('refuses a form outside the supported subset with a 400 naming the keyword, and bad approval settings', async () => {
    const alice = user('alice');
    const bad = (extra: Record<string, unknown>) => d.http(0, 'POST', '/notify?wait=false', notifyBody(alice, 'deploy', extra));
    const pattern = await bad({ form: { type: 'object', properties: { name: { type: 'string', pattern: '^a' } } } });
    expect(pattern.status).toBe(400);
    expect(pattern.body).toMatchObject({ code: 'validation_failed', message: "form: keyword 'pattern' at /properties/name is not supported" });
    const nested = await bad({ form: { type: 'object', properties: { inner: { type: 'object', properties: {} } } } });
    expect(nested.body).toMatchObject({ code: 'validation_failed' });
    expect(nested.body.message).toContain('/properties/inner/type');
    expect((await bad({ policy: 'quorum' })).body).toMatchObject({ code: 'validation_failed', message: "quorum: required with policy 'quorum'" });
    expect((await bad({ policy: 'quorum', quorum: 3, approvers: { users: ['a', 'b'] } })).status).toBe(400);
    expect((await bad({ policy: 'all', approvers: { groups: ['ops'] } })).status).toBe(400);
    expect((await bad({ options: [OPTIONS[0], OPTIONS[0]] })).body).toMatchObject({ code: 'validation_failed', message: 'options: ids must be unique' });
    const shape = await bad({ options: [{ id: 'has space', label: 'x', proceed: true }] });
    expect(shape.status).toBe(400);
    expect(shape.body.message).toContain('options');
  });

  it('quorum of 2 of 3: every approver gets the prompt and the votes; the second approval settles and closes every card', async () => {
    const [owner, bob, carol, dave] = ['owner', 'bob', 'carol', 'dave'].map(user);
    const tabs = await Promise.all([owner, bob, carol, dave].map((u, i) => d.connect(i, u)));
    const callbackId = id();
    const waiting = d.http(0, 'POST', '/notify', notifyBody(owner, 'deploy', { callback_id: callbackId, approvers: { users: [bob, carol, dave] }, policy: 'quorum', quorum: 2 }));
    for (const tab of tabs) expect(await tab.next('task_step_result')).toMatchObject({ callback_id: callbackId, approvers: { users: [bob, carol, dave], groups: [] }, policy: 'quorum', quorum: 2 });
    // The task's user is not among the approvers.
    tabs[0].send({ action: 'confirm', callback_id: callbackId, proceed: true });
    expect(await tabs[0].next('error')).toMatchObject({ code: 'not_an_approver' });

    // The reply says whether this vote settled it: here not yet.
    expect(await tabs[1].request({ action: 'confirm', callback_id: callbackId, proceed: true }, 'confirmation_accepted')).toMatchObject({ proceed: true, state: 'pending' });
    for (const tab of tabs) {
      expect(await tab.next('confirmation_vote')).toMatchObject({ callback_id: callbackId, policy: 'quorum', quorum: 2, needed: 1, votes: [{ user_id: bob, proceed: true, option: null }] });
    }
    tabs[1].send({ action: 'confirm', callback_id: callbackId, proceed: true });
    expect(await tabs[1].next('error')).toMatchObject({ code: 'already_voted' });
    expect(await tabs[3].request({ action: 'confirm', callback_id: callbackId, proceed: false }, 'confirmation_accepted')).toMatchObject({ state: 'pending' });
    // The settling vote's reply says so; that connection gets no confirmation_resolved for it.
    expect(await tabs[2].request({ action: 'confirm', callback_id: callbackId, proceed: true }, 'confirmation_accepted')).toMatchObject({ state: 'confirmed' });
    const decision = await waiting;
    expect(decision.body).toMatchObject({ state: 'confirmed', proceed: true, decided_by: carol });
    expect(decision.body.votes.map((v: { user_id: string; proceed: boolean }) => [v.user_id, v.proceed])).toEqual([[bob, true], [dave, false], [carol, true]]);
    for (const tab of [tabs[0], tabs[1], tabs[3]]) expect(await tab.next('confirmation_resolved')).toMatchObject({ callback_id: callbackId, state: 'confirmed', decided_by: carol, option: null });
  });

  it("policy all: one rejection rejects", async () => {
    const [owner, bob, carol] = ['owner', 'bob', 'carol'].map(user);
    const [bobTab, carolTab] = await Promise.all([d.connect(1, bob), d.connect(2, carol)]);
    const callbackId = id();
    const waiting = d.http(0, 'POST', '/notify', notifyBody(owner, 'deploy', { callback_id: callbackId, approvers: { users: [bob, carol] }, policy: 'all' }));
    await Promise.all([bobTab.next('task_step_result'), carolTab.next('task_step_result')]);
    await bobTab.request({ action: 'confirm', callback_id: callbackId, proceed: true }, 'confirmation_accepted');
    expect(await carolTab.next('confirmation_vote')).toMatchObject({ needed: 1, policy: 'all' });
    await carolTab.request({ action: 'confirm', callback_id: callbackId, proceed: false, feedback: 'not today' }, 'confirmation_accepted');
    expect((await waiting).body).toMatchObject({ state: 'rejected', proceed: false, feedback: 'not today', decided_by: carol });
    expect(await bobTab.next('confirmation_resolved')).toMatchObject({ state: 'rejected', decided_by: carol });
  });

  it('forbid_self: the requester cannot approve even when listed', async () => {
    const [owner, bob, carol] = ['owner', 'bob', 'carol'].map(user);
    const [bobTab, carolTab] = await Promise.all([d.connect(0, bob), d.connect(1, carol)]);
    const callbackId = id();
    const waiting = d.http(2, 'POST', '/notify', notifyBody(owner, 'deploy', { callback_id: callbackId, approvers: { users: [bob, carol] }, forbid_self: true, requested_by: bob }));
    await bobTab.next('task_step_result');
    bobTab.send({ action: 'confirm', callback_id: callbackId, proceed: true });
    expect(await bobTab.next('error')).toMatchObject({ code: 'self_approval_forbidden' });
    await carolTab.request({ action: 'confirm', callback_id: callbackId, proceed: true }, 'confirmation_accepted');
    expect((await waiting).body).toMatchObject({ state: 'confirmed', decided_by: carol });
  });

  it('reaches group approvers (?groups=), refuses non-members, and hands a reconnecting member the pending approval', async () => {
    const group = `ops-${randomUUID().slice(0, 6)}`;
    const [owner, zed, mallory, late] = ['owner', 'zed', 'mallory', 'late'].map(user);
    const zedTab = await d.connect(1, zed, ['other', group]);
    const malloryTab = await d.connect(2, mallory, ['other']);
    const callbackId = id();
    const waiting = d.http(0, 'POST', '/notify', notifyBody(owner, 'deploy', { callback_id: callbackId, approvers: { groups: [group] }, options: OPTIONS }));
    expect(await zedTab.next('task_step_result')).toMatchObject({ callback_id: callbackId, approvers: { users: [], groups: [group] } });
    // A member who connects afterwards gets it on connect.
    const lateTab = await d.connect(2, late, [group]);
    expect(await lateTab.next('task_step_result')).toMatchObject({ callback_id: callbackId });
    malloryTab.send({ action: 'confirm', callback_id: callbackId, option: 'full' });
    expect(await malloryTab.next('error')).toMatchObject({ code: 'not_an_approver' });
    await malloryTab.settled();
    expect(malloryTab.ofType('task_step_result')).toEqual([]);
    await zedTab.request({ action: 'confirm', callback_id: callbackId, option: 'full' }, 'confirmation_accepted');
    expect((await waiting).body).toMatchObject({ state: 'confirmed', option: 'full', decided_by: zed });
    expect(await lateTab.next('confirmation_resolved')).toMatchObject({ callback_id: callbackId, option: 'full', decided_by: zed });
  });

  it('two approvers voting at the same instant on different instances: exactly one decision, no vote lost (20 times)', async () => {
    const [owner, bob, carol] = ['owner', 'bob', 'carol'].map(user);
    const [bobTab, carolTab] = await Promise.all([d.connect(1, bob), d.connect(2, carol)]);
    for (let round = 0; round < 20; round++) {
      const callbackId = id();
      const waiting = d.http(0, 'POST', '/notify', notifyBody(owner, 'deploy', { callback_id: callbackId, approvers: { users: [bob, carol] }, policy: 'all' }));
      await Promise.all([bobTab.nextFor('task_step_result', callbackId), carolTab.nextFor('task_step_result', callbackId)]);
      bobTab.send({ action: 'confirm', callback_id: callbackId, proceed: true });
      carolTab.send({ action: 'confirm', callback_id: callbackId, proceed: true });
      const replies = await Promise.all([bobTab.nextFor('confirmation_accepted', callbackId), carolTab.nextFor('confirmation_accepted', callbackId)]);
      expect(replies.map((r) => r.callback_id)).toEqual([callbackId, callbackId]);
      const decision = (await waiting).body;
      expect(decision).toMatchObject({ state: 'confirmed' });
      expect(decision.votes.map((v: { user_id: string }) => v.user_id).sort()).toEqual([bob, carol].sort());
      expect([bob, carol]).toContain(decision.decided_by);
    }
    expect([...bobTab.ofType('error'), ...carolTab.ofType('error')]).toEqual([]);
  }, 120_000);

  it('keeps a plain prompt plain: no approval fields on the prompt, the decision or the resolution', async () => {
    const alice = user('alice');
    const [one, two] = await Promise.all([d.connect(0, alice), d.connect(1, alice)]);
    const callbackId = id();
    const waiting = d.http(2, 'POST', '/notify', notifyBody(alice, 'deploy', { callback_id: callbackId }));
    const prompt = await one.next('task_step_result');
    await two.next('task_step_result');
    for (const field of ['options', 'form', 'approvers', 'policy', 'quorum', 'votes']) expect(prompt).not.toHaveProperty(field);
    await one.request({ action: 'confirm', callback_id: callbackId, proceed: true }, 'confirmation_accepted');
    expect(Object.keys((await waiting).body).sort()).toEqual(['callback_id', 'cancelled', 'feedback', 'proceed', 'state', 'timed_out']);
    const resolved = await two.next('confirmation_resolved');
    expect(resolved).not.toHaveProperty('decided_by');
    expect(resolved).not.toHaveProperty('option');
  });
});

describe('approvals: ConfirmationService.addApprovers (escalation)', () => {
  let d: Deployment & { app: TestApp };
  beforeAll(async () => {
    d = await memoryDeployment();
  });
  afterAll(() => d?.close());

  it('adds approvers who then get the prompt and may answer', async () => {
    const tab = await d.connect(0, 'erin');
    const member = await d.connect(0, 'gus', ['night-shift']);
    const waiting = d.http(0, 'POST', '/notify', notifyBody('owner', 'deploy', { callback_id: 'esc-1', approvers: { users: ['bob'] } }));
    await sleep(100);
    const service = d.app.app.get(ConfirmationService);
    const added = await service.addApprovers('esc-1', { users: ['bob', 'erin'], groups: ['night-shift'] });
    expect(added).toMatchObject({ users: ['erin'], groups: ['night-shift'] });
    expect(await tab.next('task_step_result')).toMatchObject({ callback_id: 'esc-1', approvers: { users: ['bob', 'erin'], groups: ['night-shift'] } });
    expect(await member.next('task_step_result')).toMatchObject({ callback_id: 'esc-1' });
    await tab.request({ action: 'confirm', callback_id: 'esc-1', proceed: true }, 'confirmation_accepted');
    expect((await waiting).body).toMatchObject({ state: 'confirmed', decided_by: 'erin' });
    await expect(service.addApprovers('esc-1', { users: ['x'] })).rejects.toMatchObject({ code: 'already_resolved' });
  });
});

describe('approvals: groups from the token claim AUTH_GROUPS_CLAIM (AUTH_MODE=jwt)', () => {
  const SECRET = 'approvals-test-secret-of-at-least-32-chars';
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, AUTH_GROUPS_CLAIM: 'roles' });
  });
  afterAll(() => app?.close());

  const token = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));

  it('a member by the claim gets the prompt and may vote; ?groups= is ignored in jwt mode', async () => {
    const member = await app.connect(undefined, `/?token=${await token({ sub: 'rita', roles: ['ops', 42, ''] })}`);
    const pretender = await app.connect(undefined, `/?token=${await token({ sub: 'paul', groups: ['ops'] })}&groups=ops`);
    const waiting = app.http('POST', '/notify', notifyBody('owner', 'deploy', { callback_id: 'jwt-groups-1', approvers: { groups: ['ops'] } }));
    expect(await member.next('task_step_result')).toMatchObject({ callback_id: 'jwt-groups-1' });
    pretender.send({ action: 'confirm', callback_id: 'jwt-groups-1', proceed: true });
    expect(await pretender.next('error')).toMatchObject({ code: 'not_an_approver' });
    expect(pretender.ofType('task_step_result')).toEqual([]);
    await member.request({ action: 'confirm', callback_id: 'jwt-groups-1', proceed: true }, 'confirmation_accepted');
    expect((await waiting).body).toMatchObject({ state: 'confirmed', decided_by: 'rita' });
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
