import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, startCluster, startOnRedisCluster } from './support/cluster.js';
import { ServiceInstance, waitFor } from './support/processes.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody } from './support/test-app.js';

/**
 * The audit trail (docs/AUDIT.md) on the built service: what a confirmation went through,
 * read back from every instance in the same order; filters, cursor pages and the NDJSON
 * export; read-only; behind the API key, which never shows in an event or a log line.
 */
const KEYS = ['audit-first-key-0123456789abcdef', 'audit-second-key-fedcba9876543210'];
const AS_SECOND = { authorization: `Bearer ${KEYS[1]}` };
const AS_FIRST = { authorization: `Bearer ${KEYS[0]}` };
const ENV = { API_KEYS: KEYS.join(','), LOG_LEVEL: 'log' };

type Instance = ServiceInstance;
type Event = { event_id: string; kind: string; callback_id: string; user_id: string; task_id: string; at: number; instance_id: string; details: Record<string, any> };

async function trailOf(instance: Instance, callbackId: string): Promise<Event[]> {
  const reply = await instance.http('GET', `/confirmations/${encodeURIComponent(callbackId)}/events`, undefined, AS_FIRST);
  expect(reply.status).toBe(200);
  expect(reply.body.callback_id).toBe(callbackId);
  return reply.body.events;
}

/** Waits until the trail has `kinds` (other instances' batches take a few ms), then returns it. */
async function trailWith(instance: Instance, callbackId: string, kinds: string[]): Promise<Event[]> {
  let events: Event[] = [];
  await waitFor(async () => (events = await trailOf(instance, callbackId)).length >= kinds.length, 5000, `${kinds.join(', ')} of ${callbackId}`);
  expect(events.map((e) => e.kind)).toEqual(kinds);
  return events;
}

/** Every page of GET /audit with the query, following next_cursor, each page from the next instance. */
async function allPages(instances: Instance[], query: string, limit: number): Promise<Event[]> {
  const events: Event[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 200; page++) {
    const at = instances[page % instances.length];
    const reply = await at.http('GET', `/audit?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, undefined, AS_FIRST);
    expect(reply.status).toBe(200);
    expect(reply.body.events.length).toBeLessThanOrEqual(limit);
    events.push(...reply.body.events);
    if (reply.body.next_cursor === null) return events;
    cursor = reply.body.next_cursor;
  }
  throw new Error('too many pages');
}

/** Asks alice's tab something on `asker` and answers it there; the decision. */
async function askAndAnswer(asker: Instance, tab: Awaited<ReturnType<Instance['connect']>>, callbackId: string, taskId: string, headers = AS_SECOND) {
  const waiting = asker.http('POST', '/notify', notifyBody('alice', taskId, { callback_id: callbackId }), { ...headers, 'x-request-id': `req-${callbackId}` });
  const prompt = await tab.next('task_step_result');
  expect(prompt.callback_id).toBe(callbackId);
  await tab.request({ action: 'confirm', callback_id: callbackId, proceed: true, feedback: '同意继续 with a note' }, 'confirmation_accepted');
  const decision = await waiting;
  expect(decision.status).toBe(200);
  return decision.body;
}

/** `countsDelivery` false on a Redis Cluster, whose PUBLISH counts only one node's subscribers (PROTOCOL §10). */
function expectLifecycle(events: Event[], callbackId: string, connectionId: string, keyId: string, countsDelivery = true): void {
  const [created, delivered, answered, settled] = events;
  for (const event of events) expect(event).toMatchObject({ callback_id: callbackId, user_id: 'alice', task_id: 'task-audit' });
  expect(created.details).toMatchObject({ api_key_id: keyId, request_id: `req-${callbackId}`, requested_by: null, step: 3, step_name: 'data_validation', state: 'pending' });
  expect(delivered.details.connections).toBeGreaterThanOrEqual(countsDelivery ? 1 : 0);
  expect(answered.details).toEqual({ answered_by: 'alice', connection_id: connectionId, proceed: true, option: null, data: null, feedback: '同意继续 with a note' });
  expect(settled.details).toEqual({ state: 'confirmed', proceed: true });
  const times = events.map((e) => e.at);
  expect([...times].sort((x, y) => x - y)).toEqual(times);
  expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
}

/** The audit routes refuse every method but GET, and a caller without a key. */
async function expectReadOnlyAndKeyed(instance: Instance, callbackId: string): Promise<void> {
  const before = await trailOf(instance, callbackId);
  for (const path of ['/audit', `/confirmations/${callbackId}/events`, `/audit/${before[0].event_id}`, `/confirmations/${callbackId}/events/${before[0].event_id}`]) {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const reply = await instance.http(method, path, method === 'DELETE' ? undefined : { kind: 'settled' }, AS_FIRST);
      expect([method, path, reply.status]).toEqual([method, path, 404]);
    }
  }
  expect(await trailOf(instance, callbackId)).toEqual(before);
  for (const headers of [{}, { authorization: 'Bearer not-a-key' }, { authorization: KEYS[0] }] as Array<Record<string, string>>) {
    for (const path of ['/audit', `/confirmations/${callbackId}/events`, '/audit?format=ndjson']) {
      const reply = await instance.http('GET', path, undefined, headers);
      expect([path, reply.status, reply.body.code]).toEqual([path, 401, 'unauthorized']);
    }
  }
}

function expectNoKeyIn(text: string): void {
  for (const key of KEYS) {
    expect(text).not.toContain(key);
    // Nor a part of it long enough to mean something.
    expect(text).not.toContain(key.slice(-16));
  }
}

/** The JSON log lines of context Audit in an instance's output. */
function auditLines(output: string): Array<Record<string, any>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, any>)
    .filter((line) => line.context === 'Audit' && line.audit !== undefined);
}

describe('audit trail, memory mode (e2e)', () => {
  let instance: Instance;

  beforeAll(async () => {
    instance = await ServiceInstance.start(ENV);
  }, 120_000);
  afterAll(() => instance?.stop());

  it('records created, delivered, answered and settled with who asked and who answered', async () => {
    const tab = await instance.connect('alice');
    const connectionId = tab.ofType('connected')[0].connection_id;
    await askAndAnswer(instance, tab, 'mem-1', 'task-audit');
    const events = await trailWith(instance, 'mem-1', ['created', 'delivered', 'answered', 'settled']);
    expectLifecycle(events, 'mem-1', connectionId, 'key-2');
    expect(new Set(events.map((e) => e.instance_id)).size).toBe(1);
    // The first key is key-1; a timeout settles without an answer.
    const asked = await instance.http('POST', '/notify', notifyBody('alice', 'task-timeout', { callback_id: 'mem-timeout', timeout_seconds: 0.3 }), AS_FIRST);
    expect(asked.body.state).toBe('timed_out');
    await tab.next('task_step_result');
    const timedOut = await trailWith(instance, 'mem-timeout', ['created', 'delivered', 'settled']);
    expect(timedOut[0].details.api_key_id).toBe('key-1');
    expect(timedOut[2].details).toEqual({ state: 'timed_out', proceed: true });
    expect(await trailOf(instance, 'never-asked')).toEqual([]);
  });

  it('filters by user, task and time, pages with a cursor, and exports NDJSON', async () => {
    const before = Date.now() / 1000;
    for (const [user, task] of [['bob', 'task-f1'], ['carol', 'task-f1'], ['bob', 'task-f2']]) {
      const reply = await instance.http('POST', '/notify?wait=false', notifyBody(user, task), AS_FIRST);
      expect(reply.status).toBe(202);
    }
    const bobs = await allPages([instance], 'user_id=bob', 1);
    expect(bobs.map((e) => [e.user_id, e.task_id, e.kind])).toEqual([
      ['bob', 'task-f1', 'created'],
      ['bob', 'task-f1', 'delivered'],
      ['bob', 'task-f2', 'created'],
      ['bob', 'task-f2', 'delivered'],
    ]);
    const f1 = await allPages([instance], 'task_id=task-f1', 3);
    expect(f1.map((e) => e.user_id)).toEqual(['bob', 'bob', 'carol', 'carol']);
    expect(await allPages([instance], 'task_id=task-f1&user_id=carol', 500)).toEqual(f1.slice(2));
    const all = await allPages([instance], 'x=1', 2);
    expect(all.slice(-6)).toEqual(await allPages([instance], `since=${before}`, 500));
    expect(await allPages([instance], `since=${new Date(before * 1000).toISOString()}`, 500)).toEqual(all.slice(-6));
    expect(await allPages([instance], `until=${before}`, 500)).toEqual(all.slice(0, -6));
    expect(await allPages([instance], `since=${before - 3600}&until=${before - 1800}`, 500)).toEqual([]);

    for (const query of ['format=ndjson&task_id=task-f1', 'task_id=task-f1']) {
      const response = await fetch(`${instance.baseUrl}/audit?${query}`, { headers: { ...AS_FIRST, accept: 'application/x-ndjson' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      const text = await response.text();
      expect(text.endsWith('\n')).toBe(true);
      const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line));
      expect(lines.at(-1)).toEqual({ next_cursor: null });
      expect(lines.slice(0, -1)).toEqual(f1);
    }
    // A bounded export says where to go on.
    const bounded = await (await fetch(`${instance.baseUrl}/audit?format=ndjson&limit=3`, { headers: AS_FIRST })).text();
    const boundedLines = bounded.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(boundedLines.slice(0, -1)).toEqual(all.slice(0, 3));
    expect(typeof boundedLines.at(-1).next_cursor).toBe('string');

    for (const [query, message] of [
      ['limit=501', /limit must not be greater than 500/],
      ['limit=0', /limit/],
      ['limit=10001&format=ndjson', /limit/],
      ['cursor=abc', /cursor/],
      ['since=yesterday', /since/],
      ['since=20&until=10', /since must not be after until/],
      ['format=csv', /format/],
      ['user_id=', /user_id/],
    ] as const) {
      const reply = await instance.http('GET', `/audit?${query}`, undefined, AS_FIRST);
      expect([query, reply.status, reply.body.code]).toEqual([query, 400, 'invalid_message']);
      expect(reply.body.message).toMatch(message);
    }
  });

  it('is read-only and needs the API key; no key reaches an event or a log line', async () => {
    await expectReadOnlyAndKeyed(instance, 'mem-1');
    const exported = await (await fetch(`${instance.baseUrl}/audit?format=ndjson`, { headers: AS_FIRST })).text();
    expect(exported).toContain('"api_key_id":"key-2"');
    expectNoKeyIn(exported);
    expectNoKeyIn(instance.output);
    const lines = auditLines(instance.output).filter((line) => line.callbackId === 'mem-1');
    expect(lines.map((line) => line.audit)).toEqual(['created', 'delivered', 'answered', 'settled']);
    expect(lines[0]).toMatchObject({ level: 'info', userId: 'alice', taskId: 'task-audit', details: { api_key_id: 'key-2', request_id: 'req-mem-1' } });
    // The user's own words stay out of the log.
    expect(lines[2].details).toEqual({ answered_by: 'alice', connection_id: expect.any(String), proceed: true, option: null });
    expect(instance.output).not.toContain('同意继续 with a note');
  });
});

const haveRedis = requireProgram('redis-server', 'redis-server') && requireProgram('redis-cli', 'redis-tools');

const topologies: Array<[string, (size: number, env: Record<string, string>) => Promise<Cluster>]> = [
  ['one Redis', startCluster],
  // The streams' keys in their slots: a confirmation's next to its callback index, the global one in its own.
  ['a three-master Redis Cluster', startOnRedisCluster],
];

(haveRedis ? describe.each(topologies) : describe.skip.each(topologies))('audit trail, cluster mode: three instances on %s (e2e)', (_name, start) => {
  let cluster: Cluster;
  let a: Instance;
  let b: Instance;
  let c: Instance;

  beforeAll(async () => {
    cluster = await start(3, ENV);
    [a, b, c] = cluster.instances;
  }, 200_000);
  afterAll(() => cluster?.close(), 30_000);

  it('shows a confirmation asked on one instance and answered on another in the same order on every instance', async () => {
    const tab = await b.connect('alice');
    const connectionId = tab.ofType('connected')[0].connection_id;
    for (let i = 0; i < 5; i++) {
      const callbackId = `cl-${i}`;
      await askAndAnswer(a, tab, callbackId, 'task-audit');
      const trails = await Promise.all([a, b, c].map((instance) => trailWith(instance, callbackId, ['created', 'delivered', 'answered', 'settled'])));
      expect(trails[1]).toEqual(trails[0]);
      expect(trails[2]).toEqual(trails[0]);
      expectLifecycle(trails[0], callbackId, connectionId, 'key-2', !cluster.redisCluster);
      const [created, delivered, answered, settled] = trails[0];
      expect(delivered.instance_id).toBe(created.instance_id);
      expect(answered.instance_id).not.toBe(created.instance_id);
      expect(settled.instance_id).toBe(answered.instance_id);
    }
  });

  it('answers GET /audit the same from every instance, paged across them, and exports NDJSON', async () => {
    const tabs = await Promise.all([a.connect('dave'), c.connect('erin')]);
    for (const [i, [asker, user]] of ([[a, 'dave'], [b, 'erin'], [c, 'dave'], [a, 'erin']] as const).entries()) {
      const reply = await asker.http('POST', '/notify?wait=false', notifyBody(user, 'task-cl', { callback_id: `page-${i}` }), AS_FIRST);
      expect(reply.status).toBe(202);
    }
    await Promise.all(tabs.map((tab) => tab.next('task_step_result')));
    let whole: Event[] = [];
    await waitFor(async () => (whole = await allPages([a], 'task_id=task-cl', 500)).length === 8, 5000, 'the eight events of task-cl');
    for (const instance of [a, b, c]) expect(await allPages([instance], 'task_id=task-cl', 500)).toEqual(whole);
    expect(await allPages([c, a, b], 'task_id=task-cl', 3)).toEqual(whole);
    expect(await allPages([b, c], 'task_id=task-cl&user_id=dave', 1)).toEqual(whole.filter((e) => e.user_id === 'dave'));
    for (const instance of [a, b, c]) {
      const text = await (await fetch(`${instance.baseUrl}/audit?task_id=task-cl&format=ndjson`, { headers: AS_FIRST })).text();
      const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line));
      expect(lines).toEqual([...whole, { next_cursor: null }]);
    }
  });

  it('writes what is queued when an instance is stopped, is read-only, and keeps the key out of events and logs', async () => {
    const asked = await c.http('POST', '/notify?wait=false', notifyBody('frank', 'task-stop', { callback_id: 'stop-1' }), AS_SECOND);
    expect(asked.status).toBe(202);
    await c.stop('SIGTERM');
    const events = await trailWith(a, 'stop-1', ['created', 'delivered']);
    expect(events[0].details.api_key_id).toBe('key-2');
    await expectReadOnlyAndKeyed(b, 'cl-0');
    const exported = await (await fetch(`${a.baseUrl}/audit?format=ndjson`, { headers: AS_FIRST })).text();
    expectNoKeyIn(exported);
    for (const instance of [a, b, c]) expectNoKeyIn(instance.output);
    const created = auditLines(a.output).filter((line) => line.audit === 'created');
    expect(created.length).toBeGreaterThanOrEqual(5);
    expect(auditLines(b.output).filter((line) => line.audit === 'answered').length).toBeGreaterThanOrEqual(5);
  });
});
