import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WebSocket } from 'ws';
import { TestClient } from './support/test-client.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';

describe('socket protocol and its errors (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ WEBSOCKET_MAX_MESSAGE_BYTES: 4096 });
  });
  afterAll(() => t.close());

  it('greets a connection with its id, user and server time', async () => {
    const before = Date.now() / 1000;
    const client = await TestClient.open(`${t.wsUrl}/?user_id=alice`);
    const hello = await client.next('connected');
    expect(hello).toMatchObject({ user_id: 'alice' });
    expect(hello.connection_id).toEqual(expect.any(String));
    expect(hello.server_time).toBeGreaterThanOrEqual(before - 1);
    client.terminate();
  });

  it.each(['/', '/ws', '/ws/', '/?user_id=x', '/ws/?user_id=x'])('accepts upgrades at %s', async (path) => {
    const client = await TestClient.open(t.wsUrl + path);
    await client.next('connected');
    client.terminate();
  });

  it('refuses upgrades at other paths with 404', async () => {
    await expect(TestClient.open(`${t.wsUrl}/socket`)).rejects.toThrow('404');
  });

  it('answers ping with pong echoing the whole frame', async () => {
    const client = await t.connect();
    const pong = await client.request({ action: 'ping', timestamp: 12345, extra: [1] }, 'pong');
    expect(pong.original_data).toEqual({ action: 'ping', timestamp: 12345, extra: [1] });
    expect(pong.timestamp).toBeGreaterThan(1_700_000_000);
  });

  const badFrames: Array<[string, string | Buffer, string, string]> = [
    ['not JSON', '{oops', 'invalid_json', 'Invalid JSON format'],
    ['empty frame', '', 'invalid_json', 'Invalid JSON format'],
    ['a JSON array', '[1,2]', 'invalid_message', ''],
    ['a JSON string', '"confirm"', 'invalid_message', ''],
    ['null', 'null', 'invalid_message', ''],
    ['an unknown action', '{"action":"explode"}', 'unknown_action', 'Unknown action: explode'],
    ['no action', '{"callback_id":"x"}', 'unknown_action', 'Unknown action: undefined'],
    ['a non-string action', '{"action":{"a":1}}', 'unknown_action', ''],
    ['a prototype action', '{"action":"__proto__"}', 'unknown_action', 'Unknown action: __proto__'],
    ['a constructor action', '{"action":"constructor"}', 'unknown_action', ''],
    ['a binary frame', Buffer.from([1, 2, 3]), 'invalid_message', 'Binary'],
    ['confirm without callback_id', '{"action":"confirm","proceed":true}', 'invalid_message', 'callback_id is required'],
    ['confirm with a string proceed', '{"action":"confirm","callback_id":"x","proceed":"yes"}', 'invalid_message', 'proceed must be a boolean'],
    ['confirm with numeric feedback', '{"action":"confirm","callback_id":"x","feedback":5}', 'invalid_message', 'feedback must be a string'],
    ['cancel without task_id', '{"action":"cancel","user_id":"alice"}', 'invalid_message', 'task_id is required'],
    ['cancel with a numeric task_id', '{"action":"cancel","task_id":7}', 'invalid_message', 'task_id must be a string'],
    ['subscribe with nothing', '{"action":"subscribe"}', 'invalid_message', 'subscribe needs'],
    ['subscribe with a numeric user_id', '{"action":"subscribe","user_id":1}', 'invalid_message', 'user_id must be a string'],
    ['unsubscribe without task_id', '{"action":"unsubscribe"}', 'invalid_message', 'task_id is required'],
    ['confirm without callback_id and a string proceed', '{"action":"confirm","proceed":"yes"}', 'invalid_message', 'callback_id is required; proceed must be a boolean value'],
    ['ack with an empty message_id', '{"action":"ack","message_id":""}', 'invalid_message', 'message_id must be 1 to 256 characters long'],
    ['__proto__ keys', '{"action":"confirm","callback_id":"x","__proto__":{"admin":true}}', 'identity_required', ''],
  ];

  it.each(badFrames)('answers %s with an error frame', async (_name, frame, code, text) => {
    const client = await t.connect();
    client.socket.send(frame, { binary: Buffer.isBuffer(frame) });
    const error = await client.next('error');
    expect(error.code).toBe(code);
    expect(typeof error.timestamp).toBe('number');
    if (text) expect(error.message).toContain(text);
    // The connection survives and keeps working.
    expect((await client.request({ action: 'ping' }, 'pong')).type).toBe('pong');
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('closes a connection that sends an oversized frame with 1009, and nobody else', async () => {
    const bystander = await t.connect('bystander');
    const client = await t.connect('big');
    client.send({ action: 'ping', padding: 'x'.repeat(5000) });
    expect(await client.closed).toBe(1009);
    expect((await bystander.request({ action: 'ping' }, 'pong')).type).toBe('pong');
  });

  it('closes a connection that sends invalid UTF-8 (1007) without affecting others', async () => {
    const bystander = await t.connect();
    const client = await t.connect();
    client.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(await client.closed).toBe(1007);
    expect((await bystander.request({ action: 'ping' }, 'pong')).type).toBe('pong');
  });

  it('subscribes to tasks it may follow, receives their messages, and unsubscribes', async () => {
    const watcher = await t.connect('alice');
    const refused = await watcher.request({ action: 'subscribe', task_id: 'task-7' }, 'error');
    expect(refused).toMatchObject({ code: 'forbidden', action: 'subscribe' });
    const anonymous = await t.connect();
    expect((await anonymous.request({ action: 'subscribe', task_id: 'task-7' }, 'error')).code).toBe('identity_required');

    const granted = await t.http('POST', '/tasks/task-7/subscribers', { user_id: 'alice' });
    expect(granted.status).toBe(201);
    const sub = await watcher.request({ action: 'subscribe', task_id: 'task-7' }, 'subscription_confirmed');
    expect(sub).toMatchObject({ user_id: 'alice', task_id: 'task-7', subscribed_tasks: ['task-7'] });

    const sent = await t.http('POST', '/tasks/task-7/messages', { type: 'task_progress', progress: 75 });
    expect(sent.body).toEqual({ delivered: 1 });
    expect(await watcher.next('task_progress')).toMatchObject({ progress: 75, task_id: 'task-7' });

    const unsub = await watcher.request({ action: 'unsubscribe', task_id: 'task-7' }, 'unsubscribed');
    expect(unsub.subscribed_tasks).toEqual([]);
    expect((await t.http('POST', '/tasks/task-7/messages', { type: 'task_progress' })).body).toEqual({ delivered: 0 });

    await watcher.request({ action: 'subscribe', task_id: 'task-7' }, 'subscription_confirmed');
    expect((await t.http('DELETE', '/tasks/task-7/subscribers/alice')).status).toBe(204);
    expect((await t.http('POST', '/tasks/task-7/messages', { type: 'task_progress' })).body).toEqual({ delivered: 0 });
    expect((await watcher.request({ action: 'subscribe', task_id: 'task-7' }, 'error')).code).toBe('forbidden');
  });

  it('lets a user follow a task they were asked about', async () => {
    const owner = await t.connect('asked');
    await t.http('POST', '/notify?wait=false', notifyBody('asked', 'task-asked'));
    const sub = await owner.request({ action: 'subscribe', task_id: 'task-asked' }, 'subscription_confirmed');
    expect(sub.subscribed_tasks).toEqual(['task-asked']);
  });

  it('refuses to switch a connection to another user', async () => {
    const client = await t.connect('alice');
    const same = await client.request({ action: 'subscribe', user_id: 'alice' }, 'subscription_confirmed');
    expect(same.user_id).toBe('alice');
    const error = await client.request({ action: 'subscribe', user_id: 'mallory' }, 'error');
    expect(error).toMatchObject({ code: 'forbidden', action: 'subscribe' });
  });

  it('cancels a task: pending confirmations answered no, user and subscribers told, state readable', async () => {
    const owner = await t.connect('dave');
    const watcher = await t.connect('watcher');
    await t.http('POST', '/tasks/task-c/subscribers', { user_id: 'watcher' });
    await watcher.request({ action: 'subscribe', task_id: 'task-c' }, 'subscription_confirmed');
    const outsider = await t.connect('erin');
    const waiting = t.http('POST', '/notify', notifyBody('dave', 'task-c'));
    await owner.next('task_step_result');

    owner.send({ action: 'cancel', task_id: 'task-c' });
    expect(await owner.next('task_cancelled')).toMatchObject({ user_id: 'dave', task_id: 'task-c' });
    expect(await watcher.next('task_cancelled')).toMatchObject({ task_id: 'task-c' });
    expect((await waiting).body).toMatchObject({ proceed: false, cancelled: true, state: 'cancelled' });
    await outsider.settled();
    expect(outsider.ofType('task_cancelled')).toHaveLength(0);

    const state = await t.http('GET', '/tasks/task-c');
    expect(state.body).toMatchObject({ task_id: 'task-c', cancelled: true, cancelled_by: 'dave', pending_confirmations: [] });

    const after = await t.http('POST', '/notify', notifyBody('dave', 'task-c'));
    expect(after.body).toMatchObject({ cancelled: true, proceed: false });
  });

  it('refuses to cancel a task that is not the user\'s, leaving its owner\'s state untouched', async () => {
    const owner = await t.connect('victim');
    await t.http('POST', '/heartbeats', { user_id: 'victim', task_id: 'victim-task', interval_seconds: 60 });
    await owner.next('heartbeat');
    const mallory = await t.connect('hijacker');
    const refused = await mallory.request({ action: 'cancel', task_id: 'victim-task' }, 'error');
    expect(refused).toMatchObject({ code: 'forbidden', action: 'cancel' });
    const task = (await t.http('GET', '/tasks/victim-task')).body;
    expect(task).toMatchObject({ cancelled: false, cancelled_by: null });
    expect(task.heartbeat).not.toBeNull();
    expect((await mallory.request({ action: 'subscribe', task_id: 'victim-task' }, 'error')).code).toBe('forbidden');
  });

  it('keeps two users\' cancellations of a shared task apart', async () => {
    const alice = await t.connect('share-a');
    const bob = await t.connect('share-b');
    await t.http('POST', '/notify?wait=false', notifyBody('share-a', 'shared-task'));
    await t.http('POST', '/notify?wait=false', notifyBody('share-b', 'shared-task'));
    await t.http('POST', '/heartbeats', { user_id: 'share-a', task_id: 'shared-task', interval_seconds: 60 });
    alice.send({ action: 'cancel', task_id: 'shared-task' });
    await alice.next('task_cancelled');
    const afterAlice = await t.http('POST', '/notify?wait=false', notifyBody('share-a', 'shared-task'));
    expect(afterAlice.body.cancelled).toBe(true);
    // Bob's pending prompt was not his to lose, and his cancel does not touch alice's heartbeat.
    const bobsPending = (await t.http('GET', '/tasks/shared-task')).body.pending_confirmations;
    expect(bobsPending.map((c: { user_id: string }) => c.user_id)).toEqual(['share-b']);
    bob.send({ action: 'cancel', task_id: 'shared-task' });
    await bob.next('task_cancelled');
    const again = await t.http('POST', '/notify?wait=false', notifyBody('share-a', 'shared-task'));
    expect(again.body.cancelled).toBe(true);
  });

  it('changes nothing when a subscribe is partly refused', async () => {
    const client = await t.connect();
    const refused = await client.request({ action: 'subscribe', user_id: 'half', task_id: 'not-theirs' }, 'error');
    expect(refused.code).toBe('forbidden');
    const later = await client.request({ action: 'subscribe', user_id: 'other-half' }, 'subscription_confirmed');
    expect(later.user_id).toBe('other-half');
  });

  it('handles ids up to 256 characters in paths', async () => {
    const longId = 'x'.repeat(256);
    const created = await t.http('POST', '/notify?wait=false', notifyBody('long-user', longId, { callback_id: longId }));
    expect(created.status).toBe(202);
    expect((await t.http('GET', `/confirmations/${longId}`)).body.callback_id).toBe(longId);
    expect((await t.http('GET', `/tasks/${longId}`)).body.task_id).toBe(longId);
  });

  it('refuses to cancel for another user or without an identity', async () => {
    const mallory = await t.connect('mallory');
    expect((await mallory.request({ action: 'cancel', user_id: 'dave', task_id: 't' }, 'error')).code).toBe('forbidden');
    const anonymous = await t.connect();
    expect((await anonymous.request({ action: 'cancel', task_id: 't' }, 'error')).code).toBe('identity_required');
  });

  it('keeps a user\'s pending confirmation intact through another user\'s bad frames', async () => {
    const alice = await t.connect('alice-2');
    const attacker = await t.connect('attacker');
    const waiting = t.http('POST', '/notify', notifyBody('alice-2', 'task-x'));
    const prompt = await alice.next('task_step_result');
    for (const frame of ['{', '[]', '{"action":"cancel","task_id":"task-x","user_id":"alice-2"}']) attacker.send(frame);
    attacker.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: false });
    await attacker.settled();
    expect(attacker.ofType('error').map((e) => e.code)).toEqual(['invalid_json', 'invalid_message', 'forbidden', 'forbidden']);
    alice.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true });
    expect((await waiting).body.state).toBe('confirmed');
  });

  it('broadcasts to everyone and sends to one user\'s connections only', async () => {
    const a = await t.connect('bc-a');
    const b = await t.connect('bc-b');
    const anon = await t.connect();
    const all = await t.http('POST', '/broadcast', { type: 'system_notification', severity: 'warning' });
    expect(all.body.delivered).toBeGreaterThanOrEqual(3);
    for (const c of [a, b, anon]) expect((await c.next('system_notification')).severity).toBe('warning');

    const one = await t.http('POST', '/users/bc-a/messages', { type: 'personal_notification', message: 'done' });
    expect(one.body).toEqual({ delivered: 1 });
    expect(await a.next('personal_notification')).toMatchObject({ target_user_id: 'bc-a', message: 'done' });
    // The same path then carries one to b: had bc-a's reached b, it would have come first.
    await t.http('POST', '/users/bc-b/messages', { type: 'personal_notification', message: 'yours' });
    expect(await b.next('personal_notification')).toMatchObject({ target_user_id: 'bc-b', message: 'yours' });
    expect(b.ofType('personal_notification')).toHaveLength(1);
  });

  it('does not deliver to a socket that closed', async () => {
    const gone = await t.connect('ghost');
    gone.socket.close();
    await gone.closed;
    await sleep(20);
    expect((await t.http('POST', '/users/ghost/messages', { type: 'x' })).body).toEqual({ delivered: 0 });
  });

  it('survives a client that disappears mid-handshake', async () => {
    const socket = new WebSocket(`${t.wsUrl}/`);
    socket.on('error', () => undefined);
    socket.terminate();
    await sleep(50);
    expect((await t.http('GET', '/health/live')).status).toBe(200);
  });
});

describe('permessage-deflate (e2e)', () => {
  const bigNotice = { type: 'system_notification', text: 'step 3 of 5 finished. '.repeat(200) };

  it('is not offered by default', async () => {
    const t = await startTestApp();
    try {
      const client = await TestClient.open(`${t.wsUrl}/?user_id=alice`);
      await client.next('connected');
      expect(client.socket.extensions).toBe('');
      client.terminate();
    } finally {
      await t.close();
    }
  });

  it('when enabled, compresses for clients that ask and still serves those that do not', async () => {
    const t = await startTestApp({ WEBSOCKET_PERMESSAGE_DEFLATE: 'true' });
    try {
      const compressing = await TestClient.open(`${t.wsUrl}/?user_id=alice`);
      const plain = await TestClient.open(`${t.wsUrl}/?user_id=bob`, { perMessageDeflate: false });
      await Promise.all([compressing.next('connected'), plain.next('connected')]);
      expect(compressing.socket.extensions).toContain('permessage-deflate');
      expect(plain.socket.extensions).toBe('');

      const sent = await t.http('POST', '/broadcast', bigNotice);
      expect(sent.body.delivered).toBe(2);
      const kept = { ...bigNotice, broadcast_offset: expect.any(Number) };
      expect(await compressing.next('system_notification')).toEqual(kept);
      expect(await plain.next('system_notification')).toEqual(kept);
      const pong = await compressing.request({ action: 'ping', padding: 'x'.repeat(2000) }, 'pong');
      expect(pong.original_data.padding).toHaveLength(2000);
      compressing.terminate();
      plain.terminate();
    } finally {
      await t.close();
    }
  });

  it('when enabled, holds the frame limit to the inflated size (a small compressed bomb closes with 1009)', async () => {
    const t = await startTestApp({ WEBSOCKET_PERMESSAGE_DEFLATE: 'true', WEBSOCKET_MAX_MESSAGE_BYTES: 4096 });
    try {
      const client = await TestClient.open(`${t.wsUrl}/?user_id=alice`, { perMessageDeflate: { threshold: 0 } });
      await client.next('connected');
      client.send({ action: 'ping', padding: 'x'.repeat(100_000) });
      expect(await client.closed).toBe(1009);
      expect((await t.http('GET', '/health/live')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
