import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sleep, startTestApp, TestApp } from './support/test-app.js';
import { TestClient } from './support/test-client.js';

describe('acknowledged messages (memory mode)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('carries message_id and requires_ack; the caller waiting for the ack learns who acknowledged and when', async () => {
    const alice = await t.connect('ack-alice');
    const waiting = t.http('POST', '/users/ack-alice/messages?wait_ack_seconds=5', { type: 'personal_notification', message: 'sign the form', requires_ack: true });
    const frame = await alice.next('personal_notification');
    expect(frame).toMatchObject({ message: 'sign the form', requires_ack: true, message_id: expect.any(String), target_user_id: 'ack-alice' });
    expect(frame).not.toHaveProperty('ack_timeout_seconds');
    const accepted = await alice.request({ action: 'ack', message_id: frame.message_id }, 'ack_accepted');
    expect(accepted).toMatchObject({ message_id: frame.message_id, acked_at: expect.any(Number) });
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ delivered: 1, message_id: frame.message_id, state: 'acknowledged', acknowledged: true, acked_by: 'ack-alice' });
    const later = await t.http('GET', `/messages/${frame.message_id}`);
    expect(later.body).toMatchObject({ state: 'acknowledged', acked_by: 'ack-alice', acked_at: answer.body.acked_at });
    // A repeated ack is answered, not refused.
    expect(await alice.request({ action: 'ack', message_id: frame.message_id }, 'ack_accepted')).toMatchObject({ message_id: frame.message_id });
  });

  it('sends an unacknowledged message again on the next connection, and no more after its ack', async () => {
    const first = await t.connect('ack-bob');
    const sent = await t.http('POST', '/users/ack-bob/messages', { type: 'personal_notification', message: 'pay', requires_ack: true });
    expect(sent.body).toMatchObject({ delivered: 1, state: 'pending', acknowledged: false });
    const { message_id: id } = await first.next('personal_notification');
    first.terminate();

    const second = await t.connect('ack-bob');
    const again = await second.next('personal_notification');
    expect(again.message_id).toBe(id);
    await second.request({ action: 'ack', message_id: id }, 'ack_accepted');
    second.terminate();

    const third = await t.connect('ack-bob');
    // A later message must come after anything sent again on connecting: it is the only one.
    await t.http('POST', '/users/ack-bob/messages', { type: 'personal_notification', message: 'later' });
    expect(await third.next('personal_notification')).toMatchObject({ message: 'later' });
    expect(third.ofType('personal_notification')).toHaveLength(1);
  });

  it('after a resume past the message, an unacknowledged message comes again; after its ack it does not', async () => {
    const first = await t.connect('ack-rita');
    await t.http('POST', '/users/ack-rita/messages', { type: 'personal_notification', message: '请确认', requires_ack: true });
    const frame = await first.next('personal_notification');
    const { epoch } = first.frames[0];
    first.terminate();

    // Resumed from the message's own offset: history has nothing newer, the ack store does.
    const resumed = await TestClient.open(`${t.wsUrl}/?user_id=ack-rita&epoch=${epoch}&offset=${frame.offset}`);
    expect((await resumed.next('resumed')).recovered).toBe(true);
    const again = await resumed.next('personal_notification');
    expect(again).toMatchObject({ message_id: frame.message_id, requires_ack: true });
    await resumed.request({ action: 'ack', message_id: frame.message_id }, 'ack_accepted');
    resumed.terminate();

    const last = await TestClient.open(`${t.wsUrl}/?user_id=ack-rita&epoch=${epoch}&offset=${frame.offset}`);
    await last.next('resumed');
    await t.http('POST', '/users/ack-rita/messages', { type: 'personal_notification', message: 'later' });
    expect(await last.next('personal_notification')).toMatchObject({ message: 'later' });
    expect(last.ofType('personal_notification')).toHaveLength(1);
    last.terminate();
  });

  it('refuses acks of unknown, foreign and expired messages with stable codes', async () => {
    const carol = await t.connect('ack-carol');
    const dave = await t.connect('ack-dave');
    carol.send({ action: 'ack', message_id: 'no-such-message' });
    expect(await carol.next('error')).toMatchObject({ code: 'message_not_found', action: 'ack' });
    await t.http('POST', '/users/ack-dave/messages', { type: 'personal_notification', message: 'x', requires_ack: true, ack_timeout_seconds: 0.3 });
    const { message_id: id } = await dave.next('personal_notification');
    carol.send({ action: 'ack', message_id: id });
    expect(await carol.next('error')).toMatchObject({ code: 'forbidden', action: 'ack' });
    await sleep(400);
    dave.send({ action: 'ack', message_id: id });
    expect(await dave.next('error')).toMatchObject({ code: 'message_expired', action: 'ack' });
    expect((await t.http('GET', `/messages/${id}`)).body).toMatchObject({ state: 'expired', acknowledged: false });
    const anonymous = await t.connect();
    anonymous.send({ action: 'ack', message_id: id });
    expect(await anonymous.next('error')).toMatchObject({ code: 'identity_required' });
    anonymous.send({ action: 'ack' });
    expect(await anonymous.next('error')).toMatchObject({ code: 'invalid_message' });
  });

  it('answers bad ack options with 400 and an unknown message id with 404', async () => {
    const bad = await t.http('POST', '/users/ack-erin/messages', { type: 'x', requires_ack: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/requires_ack must be a boolean/);
    expect((await t.http('POST', '/users/ack-erin/messages', { type: 'x', ack_timeout_seconds: 5 })).status).toBe(400);
    expect((await t.http('POST', '/users/ack-erin/messages', { type: 'x', requires_ack: true, ack_timeout_seconds: -1 })).status).toBe(400);
    expect((await t.http('POST', '/users/ack-erin/messages?wait_ack_seconds=9999', { type: 'x', requires_ack: true })).status).toBe(400);
    const missing = await t.http('GET', '/messages/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('message_not_found');
  });

  it('a task message with requires_ack is acknowledged by a subscriber, and re-sent to new subscribers until then', async () => {
    await t.http('POST', '/tasks/ack-task/subscribers', { user_id: 'ack-frank' });
    const early = await t.connect('ack-frank');
    await early.request({ action: 'subscribe', task_id: 'ack-task' }, 'subscription_confirmed');
    const waiting = t.http('POST', '/tasks/ack-task/messages?wait_ack_seconds=0.3', { type: 'task_progress', progress: 50, requires_ack: true });
    const { message_id: id } = await early.next('task_progress');
    expect((await waiting).body).toMatchObject({ state: 'pending', acknowledged: false, task_id: 'ack-task' });
    early.terminate();
    const late = await t.connect('ack-frank');
    await late.request({ action: 'subscribe', task_id: 'ack-task' }, 'subscription_confirmed');
    expect((await late.next('task_progress')).message_id).toBe(id);
    await late.request({ action: 'ack', message_id: id }, 'ack_accepted');
    expect((await t.http('GET', `/messages/${id}`)).body).toMatchObject({ state: 'acknowledged', acked_by: 'ack-frank' });
  });
});
