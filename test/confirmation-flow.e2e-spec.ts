import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';

describe('notify -> confirm -> decision (e2e)', () => {
  let t: TestApp;

  beforeEach(async () => {
    t = await startTestApp({ WEBSOCKET_CALLBACK_TIMEOUT: 5 });
  });
  afterEach(() => t.close());

  it('delivers the step result to the user and returns their decision to the waiting caller', async () => {
    const alice = await t.connect('alice');
    const waiting = t.http('POST', '/notify', notifyBody('alice', 'task-1'));

    const prompt = await alice.next('task_step_result');
    expect(prompt).toMatchObject({
      user_id: 'alice',
      task_id: 'task-1',
      step: 3,
      step_name: 'data_validation',
      completed: true,
      message: 'Validation finished with 5 errors. Continue?',
      status: 'completed',
      result: { validated_rows: 1000, errors: 5 },
      error_code: null,
      error_message: null,
    });
    expect(typeof prompt.timestamp).toBe('number');
    expect(prompt.expires_at).toBeGreaterThan(prompt.timestamp);

    const ack = await alice.request(
      { action: 'confirm', callback_id: prompt.callback_id, proceed: true, feedback: 'go on' },
      'confirmation_accepted',
    );
    expect(ack).toMatchObject({ callback_id: prompt.callback_id, proceed: true, feedback: 'go on' });

    const decision = await waiting;
    expect(decision.status).toBe(200);
    expect(decision.body).toEqual({
      callback_id: prompt.callback_id,
      state: 'confirmed',
      proceed: true,
      feedback: 'go on',
      timed_out: false,
      cancelled: false,
    });
  });

  it('returns a rejection, and a confirm without proceed counts as a rejection', async () => {
    const alice = await t.connect('alice');
    const waiting = t.http('POST', '/notify', notifyBody('alice', 'task-1'));
    const prompt = await alice.next('task_step_result');
    alice.send({ action: 'confirm', callback_id: prompt.callback_id });
    expect((await alice.next('confirmation_accepted')).proceed).toBe(false);
    expect((await waiting).body).toMatchObject({ state: 'rejected', proceed: false, timed_out: false });
  });

  it('times out with the configured decision and says so', async () => {
    await t.connect('alice');
    const started = Date.now();
    const decision = await t.http('POST', '/notify', notifyBody('alice', 'task-1', { timeout_seconds: 0.3 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(decision.body).toMatchObject({ state: 'timed_out', proceed: true, timed_out: true, cancelled: false });
  });

  it('can be configured to reject on timeout', async () => {
    await t.close();
    t = await startTestApp({ WEBSOCKET_TIMEOUT_DECISION: 'reject' });
    const decision = await t.http('POST', '/notify', notifyBody('bob', 'task-1', { timeout_seconds: 0.2 }));
    expect(decision.body).toMatchObject({ state: 'timed_out', proceed: false, timed_out: true });
  });

  it('tells the user\'s other tabs when one of them answered, and closes the prompt on timeout', async () => {
    const tab1 = await t.connect('alice');
    const tab2 = await t.connect('alice');
    const waiting = t.http('POST', '/notify', notifyBody('alice', 'task-1'));
    const prompt = await tab1.next('task_step_result');
    await tab2.next('task_step_result');
    tab1.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true });
    await tab1.next('confirmation_accepted');
    expect(await tab2.next('confirmation_resolved')).toMatchObject({
      callback_id: prompt.callback_id,
      state: 'confirmed',
      proceed: true,
      task_id: 'task-1',
    });
    await waiting;
    expect(tab1.ofType('confirmation_resolved')).toHaveLength(0);

    void t.http('POST', '/notify', notifyBody('alice', 'task-2', { timeout_seconds: 0.2 }));
    await tab1.next('task_step_result');
    expect(await tab1.next('confirmation_resolved')).toMatchObject({ state: 'timed_out', task_id: 'task-2' });
  });

  it('first answer wins: a second answer gets already_resolved, an unknown id callback_not_found', async () => {
    const tab1 = await t.connect('alice');
    const tab2 = await t.connect('alice');
    const waiting = t.http('POST', '/notify', notifyBody('alice', 'task-1'));
    const prompt = await tab1.next('task_step_result');
    tab1.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true });
    await tab1.next('confirmation_accepted');
    const late = await tab2.request({ action: 'confirm', callback_id: prompt.callback_id, proceed: false }, 'error');
    expect(late).toMatchObject({ code: 'already_resolved', action: 'confirm' });
    expect((await waiting).body.proceed).toBe(true);

    const unknown = await tab1.request({ action: 'confirm', callback_id: 'no-such-id', proceed: true }, 'error');
    expect(unknown).toMatchObject({ code: 'callback_not_found' });
  });

  it('keeps two users apart: nobody sees or answers another user\'s confirmation', async () => {
    const alice = await t.connect('alice');
    const mallory = await t.connect('mallory');
    const anonymous = await t.connect();
    const waiting = t.http('POST', '/notify', notifyBody('alice', 'task-1'));
    const prompt = await alice.next('task_step_result');

    const stolen = await mallory.request({ action: 'confirm', callback_id: prompt.callback_id, proceed: false }, 'error');
    expect(stolen.code).toBe('forbidden');
    const anon = await anonymous.request({ action: 'confirm', callback_id: prompt.callback_id, proceed: false }, 'error');
    expect(anon.code).toBe('identity_required');

    alice.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true });
    expect((await waiting).body.proceed).toBe(true);
    await Promise.all([mallory.settled(), anonymous.settled()]);
    expect(mallory.ofType('task_step_result')).toHaveLength(0);
    expect(anonymous.ofType('task_step_result')).toHaveLength(0);
  });

  it('holds a confirmation for an offline user and delivers it when they connect or identify', async () => {
    const waiting = t.http('POST', '/notify', notifyBody('carol', 'task-9', { callback_id: 'offline-carol' }));
    // Carol connects only once the confirmation is known to be pending with nobody to show
    // it to, so the prompt can only reach her through delivery on connect.
    let pending = false;
    while (!pending) {
      const read = await t.http('GET', '/confirmations/offline-carol');
      pending = read.status === 200 && read.body.state === 'pending';
      if (!pending) await sleep(20);
    }
    const late = await t.connect('carol');
    const prompt = await late.next('task_step_result');
    expect(prompt).toMatchObject({ task_id: 'task-9', callback_id: 'offline-carol' });

    const anonymous = await t.connect();
    const sub = await anonymous.request({ action: 'subscribe', user_id: 'carol' }, 'subscription_confirmed');
    expect(sub.user_id).toBe('carol');
    expect((await anonymous.next('task_step_result')).callback_id).toBe(prompt.callback_id);

    anonymous.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true });
    expect((await waiting).body.state).toBe('confirmed');
    expect(await late.next('confirmation_resolved')).toMatchObject({ callback_id: prompt.callback_id });
  });

  it('is idempotent with a caller-given callback_id', async () => {
    const alice = await t.connect('alice');
    const body = notifyBody('alice', 'task-1', { callback_id: 'job-42.step-3' });
    const first = await t.http('POST', '/notify?wait=false', body);
    expect(first.status).toBe(202);
    // `state`, as in every other answer; `status` is its deprecated alias for older clients.
    expect(first.body).toEqual({ callback_id: 'job-42.step-3', state: 'pending', status: 'pending', expires_at: expect.any(Number) });
    const again = await t.http('POST', '/notify?wait=false', body);
    expect(again.body).toEqual(first.body);
    await alice.next('task_step_result');
    await alice.settled();
    expect(alice.ofType('task_step_result')).toHaveLength(1);

    const waiting = t.http('POST', '/notify', body);
    alice.send({ action: 'confirm', callback_id: 'job-42.step-3', proceed: false, feedback: 'stop' });
    expect((await waiting).body).toMatchObject({ callback_id: 'job-42.step-3', proceed: false, feedback: 'stop' });
    const replay = await t.http('POST', '/notify', body);
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ state: 'rejected', feedback: 'stop' });

    const conflict = await t.http('POST', '/notify', { ...body, user_id: 'mallory' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('callback_conflict');
  });

  it('serves the confirmation state and long-polls until it changes', async () => {
    const alice = await t.connect('alice');
    const created = await t.http('POST', '/notify?wait=false', notifyBody('alice', 'task-1'));
    const id = created.body.callback_id;
    const pending = await t.http('GET', `/confirmations/${id}`);
    expect(pending.body).toMatchObject({ callback_id: id, state: 'pending', proceed: null, user_id: 'alice' });

    const polling = t.http('GET', `/confirmations/${id}?wait_seconds=5`);
    await sleep(100);
    alice.send({ action: 'confirm', callback_id: id, proceed: true });
    expect((await polling).body).toMatchObject({ state: 'confirmed', proceed: true });

    const missing = await t.http('GET', '/confirmations/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('callback_not_found');
  });

  it('keeps the decision readable after the waiting caller went away', async () => {
    const alice = await t.connect('alice');
    const controller = new AbortController();
    const aborted = fetch(`${t.baseUrl}/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(notifyBody('alice', 'task-1', { callback_id: 'cb-gone' })),
      signal: controller.signal,
    }).catch((err: Error) => err.name);
    await alice.next('task_step_result');
    controller.abort();
    expect(await aborted).toBe('AbortError');
    alice.send({ action: 'confirm', callback_id: 'cb-gone', proceed: true });
    await alice.next('confirmation_accepted');
    expect((await t.http('GET', '/confirmations/cb-gone')).body.state).toBe('confirmed');
  });
});
