import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';
import { TestClient } from './support/test-client.js';

describe('REST API (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ HTTP_MAX_BODY_BYTES: 4096 });
  });
  afterAll(() => t.close());

  const invalidNotifies: Array<[string, unknown, string]> = [
    ['a missing user_id', { ...notifyBody('u', 't'), user_id: undefined }, 'user_id is required'],
    ['an empty user_id', { ...notifyBody('u', 't'), user_id: '' }, 'user_id must be 1 to 256 characters long'],
    ['a numeric task_id', { ...notifyBody('u', 't'), task_id: 5 }, 'task_id must be a string'],
    ['a string step', { ...notifyBody('u', 't'), step: 'three' }, 'step must be an integer number'],
    ['no step_result', { ...notifyBody('u', 't'), step_result: undefined }, 'step_result is required'],
    ['a step_result without message', { ...notifyBody('u', 't'), step_result: { step: 's', status: 'x' } }, 'step_result.message is required'],
    ['a step_result without step', { ...notifyBody('u', 't'), step_result: { message: 'm', status: 'x' } }, 'step_result.step is required'],
    ['an empty body', {}, 'user_id is required; task_id is required; step is required; step_result is required'],
    [
      'missing and wrong fields',
      { task_id: 't', step: -1, step_result: { step: 7, message: 'm' } },
      'user_id is required; step_result.status is required; step must not be less than 0; step_result.step must be a string',
    ],
    ['a negative timeout', { ...notifyBody('u', 't'), timeout_seconds: -1 }, 'timeout_seconds must not be less than 0.05'],
    ['a callback_id with spaces', { ...notifyBody('u', 't'), callback_id: 'a b' }, 'callback_id may contain only letters, digits and . _ : -'],
  ];

  it.each(invalidNotifies)('rejects POST /notify with %s (400: each missing field once, then what is wrong)', async (_name, body, message) => {
    const res = await t.http('POST', '/notify', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_message');
    expect(res.body.message).toBe(message);
  });

  it('rejects a body that is not JSON', async () => {
    const res = await t.http('POST', '/notify', '{not json');
    expect(res.status).toBe(400);
    expect(res.body.message).toEqual(expect.any(String));
  });

  it('rejects a body with __proto__ keys', async () => {
    const res = await t.http('POST', '/broadcast', '{"type":"x","__proto__":{"polluted":true}}');
    expect(res.status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects a body over HTTP_MAX_BODY_BYTES with 413', async () => {
    const res = await t.http('POST', '/broadcast', { type: 'x', padding: 'y'.repeat(5000) });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('payload_too_large');
  });

  it.each(['[1,2]', '"text"', '42'])('rejects a non-object message body %s', async (body) => {
    const res = await t.http('POST', '/broadcast', body);
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('JSON object');
  });

  it('rejects an invalid wait flag and an out-of-range long poll', async () => {
    expect((await t.http('POST', '/notify?wait=maybe', notifyBody('u', 't'))).status).toBe(400);
    expect((await t.http('GET', '/confirmations/x?wait_seconds=9999')).status).toBe(400);
    expect((await t.http('GET', '/confirmations/x?wait_seconds=abc')).status).toBe(400);
  });

  it('times receiving a request only: no idle-socket timeout cuts a waiting POST /notify (test/http-limits.e2e-spec.ts waits past the deadline)', () => {
    const server = t.app.getHttpServer();
    expect(server.requestTimeout).toBe(30_000);
    expect(server.headersTimeout).toBe(10_000);
    expect(server.timeout).toBe(0);
  });

  it('answers unknown routes and ids with 404 JSON', async () => {
    const route = await t.http('GET', '/nope');
    expect(route.status).toBe(404);
    expect(route.body.code).toBe('not_found');
    expect((await t.http('GET', '/tasks/never-seen')).status).toBe(404);
    expect((await t.http('DELETE', '/heartbeats/none')).status).toBe(404);
  });

  describe('with Content-Type: application/json and an empty body, as many HTTP clients send on every request', () => {
    const JSON_TYPE = { 'content-type': 'application/json' };

    it('accepts it on routes that take no body', async () => {
      await t.http('POST', '/notify?wait=false', notifyBody('empty-body', 'empty-task', { callback_id: 'empty-body-1' }));
      const heartbeat = await t.http('POST', '/heartbeats', { user_id: 'empty-body', task_id: 'empty-task', interval_seconds: 60 });
      await t.http('POST', '/tasks/empty-task/subscribers', { user_id: 'empty-helper' });
      const answers = {
        'DELETE /heartbeats/:id': (await t.http('DELETE', `/heartbeats/${heartbeat.body.heartbeat_id}`, '', JSON_TYPE)).status,
        'DELETE /tasks/:id/subscribers/:user': (await t.http('DELETE', '/tasks/empty-task/subscribers/empty-helper', '', JSON_TYPE)).status,
        'GET /confirmations/:id': (await t.http('GET', '/confirmations/empty-body-1', undefined, JSON_TYPE)).status,
        'GET /tasks/:id': (await t.http('GET', '/tasks/empty-task', undefined, JSON_TYPE)).status,
        'GET /status': (await t.http('GET', '/status', undefined, JSON_TYPE)).status,
        'GET /health': (await t.http('GET', '/health', undefined, JSON_TYPE)).status,
      };
      expect(answers).toEqual({
        'DELETE /heartbeats/:id': 204,
        'DELETE /tasks/:id/subscribers/:user': 204,
        'GET /confirmations/:id': 200,
        'GET /tasks/:id': 200,
        'GET /status': 200,
        'GET /health': 200,
      });
    });

    it('still refuses it with 400 on routes that need a body, as a missing body', async () => {
      const notify = await t.http('POST', '/notify', '', JSON_TYPE);
      expect(notify.status).toBe(400);
      expect(notify.body).toMatchObject({ code: 'invalid_message', message: expect.stringContaining('user_id is required') });
      const broadcast = await t.http('POST', '/broadcast', '', JSON_TYPE);
      expect(broadcast.body).toEqual({ statusCode: 400, code: 'invalid_message', message: 'The body must be a JSON object' });
    });

    it('still refuses a body of whitespace as invalid JSON', async () => {
      expect((await t.http('DELETE', '/heartbeats/none', ' ', JSON_TYPE)).status).toBe(400);
    });
  });

  it('runs a heartbeat to the user and the task subscribers, replaces it, and stops it', async () => {
    const owner = await t.connect('hb-user');
    const watcher = await t.connect('hb-watcher');
    await t.http('POST', '/tasks/hb-task/subscribers', { user_id: 'hb-watcher' });
    await watcher.request({ action: 'subscribe', task_id: 'hb-task' }, 'subscription_confirmed');
    const started = await t.http('POST', '/heartbeats', { user_id: 'hb-user', task_id: 'hb-task', interval_seconds: 0.1 });
    expect(started.status).toBe(201);
    const beat = await owner.next('heartbeat');
    expect(beat).toMatchObject({
      status: 'heartbeat',
      message: 'task still running...',
      user_id: 'hb-user',
      task_id: 'hb-task',
      heartbeat_id: started.body.heartbeat_id,
    });
    await watcher.next('heartbeat');
    await owner.next('heartbeat');

    const replaced = await t.http('POST', '/heartbeats', { user_id: 'hb-user', task_id: 'hb-task', interval_seconds: 0.1, message: 'still going' });
    expect((await t.http('GET', '/tasks/hb-task')).body.heartbeat.heartbeat_id).toBe(replaced.body.heartbeat_id);
    expect((await t.http('DELETE', `/heartbeats/${started.body.heartbeat_id}`)).status).toBe(404);
    expect((await t.http('DELETE', `/heartbeats/${replaced.body.heartbeat_id}`)).status).toBe(204);
    await expectNoMoreBeats(t, owner, 'hb-user', 'hb-task', 0.1);
  });

  it('stops a heartbeat when its task is cancelled, and refuses new ones for it', async () => {
    const owner = await t.connect('hb2');
    await t.http('POST', '/heartbeats', { user_id: 'hb2', task_id: 'hb2-task', interval_seconds: 0.05 });
    await owner.next('heartbeat');
    owner.send({ action: 'cancel', task_id: 'hb2-task' });
    await owner.next('task_cancelled');
    await expectNoMoreBeats(t, owner, 'hb2', 'hb2-task', 0.05);
    const refused = await t.http('POST', '/heartbeats', { user_id: 'hb2', task_id: 'hb2-task', interval_seconds: 1 });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('task_cancelled');
  });

  it('ends a heartbeat after its duration', async () => {
    const owner = await t.connect('hb3');
    // Five intervals long: late timers on a loaded machine still leave at least two beats.
    const hb = await t.http('POST', '/heartbeats', { user_id: 'hb3', task_id: 'hb3-task', interval_seconds: 0.1, duration_seconds: 0.5 });
    await sleep(900);
    const beats = owner.ofType('heartbeat').length;
    expect(beats).toBeGreaterThanOrEqual(2);
    expect(beats).toBeLessThanOrEqual(6);
    expect((await t.http('DELETE', `/heartbeats/${hb.body.heartbeat_id}`)).status).toBe(404);
    await sleep(300);
    expect(owner.ofType('heartbeat').length).toBe(beats);
  });

  it('lists a task\'s pending confirmations', async () => {
    const created = await t.http('POST', '/notify?wait=false', notifyBody('lister', 'list-task'));
    const task = await t.http('GET', '/tasks/list-task');
    expect(task.body).toMatchObject({ task_id: 'list-task', cancelled: false, heartbeat: null });
    expect(task.body.pending_confirmations.map((c: { callback_id: string }) => c.callback_id)).toEqual([created.body.callback_id]);
  });

  it('reports health, liveness, status and metrics', async () => {
    const client = await t.connect('status-user');
    await t.http('POST', '/notify?wait=false', notifyBody('status-user', 'status-task'));
    const prompt = await client.next('task_step_result');

    const health = await t.http('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', info: { websocket: { status: 'up' } } });
    expect((await t.http('GET', '/health/live')).body.status).toBe('ok');

    const status = await t.http('GET', '/status');
    expect(status.body).toMatchObject({ running: true, host: '127.0.0.1', port: Number(new URL(t.baseUrl).port) });
    expect(status.body.active_connections).toBeGreaterThanOrEqual(1);
    expect(status.body.pending_callbacks).toBeGreaterThanOrEqual(1);
    for (const key of ['total_connections', 'failed_connections', 'messages_sent', 'messages_failed', 'uptime_seconds']) {
      expect(typeof status.body[key]).toBe('number');
    }

    const metrics = await fetch(`${t.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^gateway_active_connections \d+/m);
    expect(metrics).toMatch(/^gateway_confirmations_total\{outcome="created"\} \d+/m);
    expect(metrics).toContain('process_cpu_user_seconds_total');
    expect(metrics).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    const decided = () => fetch(`${t.baseUrl}/metrics`).then(async (r) => sampleOf(await r.text(), 'gateway_confirmation_decision_seconds_count{outcome="confirmed"}'));
    const before = await decided();
    await client.request({ action: 'confirm', callback_id: prompt.callback_id, proceed: true }, 'confirmation_accepted');
    expect(await decided()).toBe(before + 1);
  });

  it('counts refused connections by reason and error frames by code', async () => {
    await expect(TestClient.open(`${t.wsUrl}/no-socket-here`)).rejects.toThrow('upgrade refused: 404');
    const client = await t.connect('frames-user');
    client.send('{not json');
    await client.next('error');
    client.send({ action: 'fly' });
    await client.next('error');

    const metrics = await fetch(`${t.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^gateway_connections_refused_total\{reason="not_found"\} [1-9]/m);
    expect(metrics).toMatch(/^gateway_error_frames_total\{code="invalid_json"\} [1-9]/m);
    expect(metrics).toMatch(/^gateway_error_frames_total\{code="unknown_action"\} [1-9]/m);
  });
});

/**
 * No beat of `taskId` after now: a heartbeat of another task, at the stopped one's interval,
 * beats twice, and a stopped-too-late timer would have fired before its second beat.
 */
async function expectNoMoreBeats(t: TestApp, owner: TestClient, userId: string, taskId: string, intervalSeconds: number): Promise<void> {
  await owner.settled(); // beats sent before the stop have arrived
  const from = owner.frames.length;
  const witness = `${taskId}-witness`;
  await t.http('POST', '/heartbeats', { user_id: userId, task_id: witness, interval_seconds: intervalSeconds });
  let witnessBeats = 0;
  while (witnessBeats < 2) if ((await owner.next('heartbeat')).task_id === witness) witnessBeats++;
  const late = owner.frames.slice(from).filter((f) => f.type === 'heartbeat' && f.task_id === taskId);
  expect(late).toEqual([]);
}

/** The value of one Prometheus sample (`name{labels}`) in an exposition; fails if absent. */
function sampleOf(exposition: string, sample: string): number {
  const line = exposition.split('\n').find((l) => l.startsWith(`${sample} `));
  if (!line) throw new Error(`no ${sample} in /metrics`);
  return Number(line.slice(sample.length + 1));
}
