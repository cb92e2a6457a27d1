import { afterEach, describe, expect, it } from '@jest/globals';
import { waitFor } from './support/processes.js';
import { TestClient } from './support/test-client.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';

/** Quick keepalive for the reaping tests, with a timeout a loaded machine's stalls stay under. */
const REAPING = { WEBSOCKET_PING_INTERVAL: 0.1, WEBSOCKET_PING_TIMEOUT: 2 };

/** Blocks the event loop, as a long synchronous task would. */
function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

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
    t = await startTestApp(REAPING);
    const healthy = await t.connect('alive');
    const dead = await TestClient.open(`${t.wsUrl}/?user_id=dead`, { autoPong: false });
    // It answers pings until it is subscribed. The clients share the server's event loop, so
    // an answered ping only counts once the loop reads the pong: the timeout leaves room for
    // a loaded machine's stalls (with 0.1 s, a stall during the setup reaped it: seen under load).
    let answering = true;
    dead.socket.on('ping', (data: Buffer) => answering && dead.socket.pong(data));
    await dead.next('connected');
    await t.http('POST', '/tasks/dead-task/subscribers', { user_id: 'dead' });
    dead.send({ action: 'subscribe', task_id: 'dead-task' });
    await dead.next('subscription_confirmed');
    answering = false;

    const code = await dead.closed;
    expect(code).toBe(1006);
    await sleep(REAPING.WEBSOCKET_PING_INTERVAL * 1000 * 3);
    expect(healthy.closeCode).toBeNull();
    const status = (await t.http('GET', '/status')).body;
    expect(status).toMatchObject({ active_connections: 1, reaped_connections: 1 });
    expect((await t.http('POST', '/users/dead/messages', { type: 'x' })).body).toEqual({ delivered: 0 });
    expect((await t.http('POST', '/tasks/dead-task/messages', { type: 'x' })).body).toEqual({ delivered: 0 });
  });

  it('a pong that arrived while the server was busy counts: a stall longer than the timeout reaps nobody', async () => {
    t = await startTestApp({ WEBSOCKET_PING_INTERVAL: 0.1, WEBSOCKET_PING_TIMEOUT: 0.1 });
    const client = await TestClient.open(`${t.wsUrl}/?user_id=busy`, { autoPong: false });
    await client.next('connected');
    let stalls = 0;
    // Answer at once, then hold the (shared) event loop past the timeout, as a GC pause or a
    // busy CPU would: the pong is in the server's socket, unread, when the timers come due.
    client.socket.on('ping', (data: Buffer) => {
      client.socket.pong(data);
      if (stalls++ < 3) busyFor(300);
    });
    await waitFor(() => stalls >= 4 || client.closeCode !== null, 10_000, 'four pings answered, or the connection closed');
    expect(client.closeCode).toBeNull();
    expect((await t.http('GET', '/status')).body).toMatchObject({ active_connections: 1, reaped_connections: 0 });
  });

  it('keeps a reaped user\'s confirmation pending for their next connection', async () => {
    t = await startTestApp(REAPING);
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
