import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { expectEveryFrameOnceInOrder, ResumingConsumer, streamWhileDropping } from './support/resuming-consumer.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';
import { TestClient } from './support/test-client.js';

describe('resume after a reconnect (memory mode)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ HISTORY_SIZE: 300 });
  });
  afterAll(() => t.close());

  it('tells the stream positions on connect and puts an offset on every frame of a stream', async () => {
    const alice = await t.connect('pos-alice');
    const connected = alice.frames[0];
    expect(connected).toMatchObject({ type: 'connected', epoch: expect.any(String), offset: 0, broadcast_epoch: expect.any(String), broadcast_offset: expect.any(Number) });
    await t.http('POST', '/users/pos-alice/messages', { type: 'personal_notification', message: 'one' });
    await t.http('POST', '/users/pos-alice/messages', { type: 'personal_notification', message: 'two' });
    const [one, two] = [await alice.next('personal_notification'), await alice.next('personal_notification')];
    expect([one.offset, two.offset]).toEqual([1, 2]);
    await t.http('POST', '/notify?wait=false', notifyBody('pos-alice', 'pos-task', { callback_id: 'pos-1' }));
    expect((await alice.next('task_step_result')).offset).toBe(3);
  });

  it('a client that drops every few frames gets every task message, notice and broadcast once and in order', async () => {
    const consumer = new ResumingConsumer(() => t.wsUrl, 'flaky', 'flaky-task');
    await streamWhileDropping((m, p, b) => t.http(m, p, b), consumer, 'flaky', 'flaky-task', 90);
    expectEveryFrameOnceInOrder(consumer, 90);
  }, 60_000);

  it('sends a prompt made while away once, by the catch-up, not again as a pending prompt', async () => {
    const first = await t.connect('away');
    const { epoch, offset } = first.frames[0];
    first.terminate();
    await t.http('POST', '/notify?wait=false', notifyBody('away', 'away-task', { callback_id: 'away-1' }));
    const back = await TestClient.open(`${t.wsUrl}/?user_id=away&epoch=${epoch}&offset=${offset}`);
    expect((await back.next('resumed')).recovered).toBe(true);
    // A prompt made now must come after any second copy of away-1.
    await t.http('POST', '/notify?wait=false', notifyBody('away', 'away-task', { callback_id: 'away-2' }));
    await back.next('task_step_result');
    await back.next('task_step_result');
    const prompts = back.ofType('task_step_result');
    expect(prompts.map((p) => p.callback_id)).toEqual(['away-1', 'away-2']);
    expect(prompts[0]).toMatchObject({ callback_id: 'away-1', offset: offset + 1 });
    back.terminate();
  });

  it('the resume frame, sent first, catches up the same way', async () => {
    const first = await t.connect('framed');
    const { epoch } = first.frames[0];
    await t.http('POST', '/users/framed/messages', { type: 'personal_notification', seq: 1 });
    await first.next('personal_notification');
    first.terminate();
    await t.http('POST', '/users/framed/messages', { type: 'personal_notification', seq: 2 });
    await t.http('POST', '/users/framed/messages', { type: 'personal_notification', seq: 3 });
    const back = await t.connect('framed');
    back.send({ action: 'resume', epoch, offset: 1 });
    const resumed = await back.next('resumed');
    expect(resumed).toMatchObject({ stream: 'user', recovered: true, offset: 3, missed: 2 });
    expect(back.ofType('personal_notification').map((f) => [f.seq, f.offset])).toEqual([[2, 2], [3, 3]]);
  });

  it('refuses a malformed resume with invalid_message', async () => {
    const client = await t.connect('bad-resume');
    client.send({ action: 'resume', epoch: 'x' });
    expect(await client.next('error')).toMatchObject({ code: 'invalid_message', message: expect.stringContaining('epoch and offset go together') });
    client.send({ action: 'resume', epoch: 'x', offset: -1 });
    expect(await client.next('error')).toMatchObject({ code: 'invalid_message' });
    const viaUrl = await TestClient.open(`${t.wsUrl}/?user_id=bad-resume&epoch=x&offset=abc`);
    expect(await viaUrl.next('error')).toMatchObject({ code: 'invalid_message', action: 'resume' });
    viaUrl.terminate();
  });

  it('an old epoch is not recovered: nothing replayed, the current position told', async () => {
    await t.http('POST', '/users/epochs/messages', { type: 'personal_notification', seq: 1 });
    const client = await TestClient.open(`${t.wsUrl}/?user_id=epochs&epoch=gone&offset=7`);
    const resumed = await client.next('resumed');
    expect(resumed).toMatchObject({ stream: 'user', recovered: false, offset: 1, missed: 0 });
    expect(resumed.epoch).not.toBe('gone');
    client.terminate();
  });
});

describe('resume beyond the kept history', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ HISTORY_SIZE: 5 });
  });
  afterAll(() => t.close());

  it('a drop longer than the history gives recovered: false with what is still kept', async () => {
    const first = await t.connect('long-gone');
    const { epoch, offset } = first.frames[0];
    first.terminate();
    for (let seq = 1; seq <= 8; seq++) await t.http('POST', '/users/long-gone/messages', { type: 'personal_notification', seq });
    await t.http('POST', '/notify?wait=false', notifyBody('long-gone', 'lg-task', { callback_id: 'lg-1' }));
    const back = await TestClient.open(`${t.wsUrl}/?user_id=long-gone&epoch=${epoch}&offset=${offset}`);
    const resumed = await back.next('resumed');
    expect(resumed).toMatchObject({ recovered: false, offset: 9, missed: 5 });
    expect(back.ofType('personal_notification').map((f) => f.seq)).toEqual([5, 6, 7, 8]);
    // Not recovered: the pending prompts are sent again as on any fresh connection.
    await back.next('task_step_result');
    expect((await back.next('task_step_result')).callback_id).toBe('lg-1');
    back.terminate();
  });
});

describe('history off (HISTORY_SIZE=0)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ HISTORY_SIZE: 0 });
  });
  afterAll(() => t.close());

  it('sends frames without offsets, as before, and refuses resume', async () => {
    const client = await t.connect('plain');
    expect(client.frames[0]).not.toHaveProperty('epoch');
    await t.http('POST', '/users/plain/messages', { type: 'personal_notification', message: 'hi' });
    expect(await client.next('personal_notification')).toEqual({ type: 'personal_notification', message: 'hi', target_user_id: 'plain' });
    client.send({ action: 'resume', epoch: 'e', offset: 1 });
    expect(await client.next('error')).toMatchObject({ code: 'invalid_message', message: expect.stringContaining('HISTORY_SIZE=0') });
  });
});
