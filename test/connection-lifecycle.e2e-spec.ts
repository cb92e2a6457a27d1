import { afterEach, describe, expect, it } from '@jest/globals';
import { TestClient } from './support/test-client.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';

describe('connection lifecycle (e2e)', () => {
  let t: TestApp;
  afterEach(() => t.close());

  it('closes the connection past WEBSOCKET_MAX_CONNECTIONS with 1013 and counts it', async () => {
    t = await startTestApp({ WEBSOCKET_MAX_CONNECTIONS: 2 });
    const first = await t.connect('a');
    await t.connect('b');
    const third = await TestClient.open(`${t.wsUrl}/?user_id=c`);
    expect(await third.closed).toBe(1013);
    expect(third.ofType('connected')).toHaveLength(0);
    expect((await t.http('GET', '/status')).body).toMatchObject({ active_connections: 2, failed_connections: 1, refused_connections: { capacity_exceeded: 1 } });

    first.socket.close();
    await first.closed;
    await sleep(20);
    await t.connect('c');
  });

  it('terminates connections that stop answering pings, and removes them everywhere', async () => {
    t = await startTestApp({ WEBSOCKET_PING_INTERVAL: 0.1, WEBSOCKET_PING_TIMEOUT: 1 });
    const healthy = await t.connect('alive');
    const dead = await TestClient.open(`${t.wsUrl}/?user_id=dead`, { autoPong: false });
    // It answers pings until it is subscribed, so a slow machine cannot reap it before that.
    let answering = true;
    dead.socket.on('ping', (data: Buffer) => answering && dead.socket.pong(data));
    await dead.next('connected');
    await t.http('POST', '/tasks/dead-task/subscribers', { user_id: 'dead' });
    dead.send({ action: 'subscribe', task_id: 'dead-task' });
    await dead.next('subscription_confirmed');
    answering = false;

    const code = await dead.closed;
    expect(code).toBe(1006);
    await sleep(350);
    expect(healthy.closeCode).toBeNull();
    const status = (await t.http('GET', '/status')).body;
    expect(status).toMatchObject({ active_connections: 1, reaped_connections: 1 });
    expect((await t.http('POST', '/users/dead/messages', { type: 'x' })).body).toEqual({ delivered: 0 });
    expect((await t.http('POST', '/tasks/dead-task/messages', { type: 'x' })).body).toEqual({ delivered: 0 });
  });

  it('keeps a reaped user\'s confirmation pending for their next connection', async () => {
    t = await startTestApp({ WEBSOCKET_PING_INTERVAL: 0.1, WEBSOCKET_PING_TIMEOUT: 1 });
    const dead = await TestClient.open(`${t.wsUrl}/?user_id=flaky`, { autoPong: false });
    let answering = true; // until it has the prompt, as above
    dead.socket.on('ping', (data: Buffer) => answering && dead.socket.pong(data));
    const waiting = t.http('POST', '/notify', notifyBody('flaky', 'task-f'));
    const prompt = await dead.next('task_step_result');
    answering = false;
    await dead.closed;
    const again = await t.connect('flaky');
    expect((await again.next('task_step_result')).callback_id).toBe(prompt.callback_id);
    again.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true });
    expect((await waiting).body.state).toBe('confirmed');
  });

  it('tells clients the server is going away and answers waiting callers with 503', async () => {
    t = await startTestApp();
    const client = await t.connect('leaving');
    const waiting = t.http('POST', '/notify', notifyBody('leaving', 'task-s', { callback_id: 'cb-shutdown' }));
    await client.next('task_step_result');
    const closing = t.app.close();
    expect((await client.next('server_shutdown')).type).toBe('server_shutdown');
    expect(await client.closed).toBe(1001);
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(answer.body).toMatchObject({ callback_id: 'cb-shutdown', code: 'unavailable' });
    await closing;
    t = { ...t, close: async () => undefined };
  });
});
