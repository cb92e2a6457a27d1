import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { SignJWT } from 'jose';
import { WebSocket, WebSocketServer } from 'ws';
import { ConnectionService } from '../../../src/connections/connection.service.js';
import { notifyBody, sleep, startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { backoffDelay, GatewayRequestError, type GatewayClient, type GatewayClientOptions, type Prompt } from '../dist/index.js';
import { startClient, type Recorder } from './support/sdk-helpers.js';

const started: GatewayClient[] = [];
function client(wsUrl: string, options: Parameters<typeof startClient>[1] = {}): { client: GatewayClient; events: Recorder } {
  const made = startClient(wsUrl, options);
  started.push(made.client);
  return made;
}

afterEach(() => {
  for (const c of started.splice(0)) c.disconnect();
});

/** Asks without waiting: the prompt is created and pushed, the HTTP call returns 202. */
async function ask(t: TestApp, userId: string, callbackId: string, taskId = 'task-1') {
  const response = await t.http('POST', '/notify?wait=false', notifyBody(userId, taskId, { callback_id: callbackId }));
  expect(response.status).toBe(202);
}

/** Cuts a user's sockets from the server side without a close frame (the client sees 1006). */
function severUser(t: TestApp, userId: string): void {
  for (const connection of [...t.app.get(ConnectionService).connectionsOfUser(userId)]) connection.socket.terminate();
}

describe('SDK against the real service', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('reports a prompt once and resolves answer() with the accepted decision the caller gets', async () => {
    const { client: alice, events } = client(t.wsUrl, { userId: 'alice' });
    await events.connected();
    const waiting = t.http('POST', '/notify', notifyBody('alice', 'task-1', { callback_id: 'sdk-1' }));
    const prompt = (await events.waitFor('prompt')) as Prompt;
    expect(prompt).toMatchObject({ callback_id: 'sdk-1', step_name: 'data_validation', task_id: 'task-1' });
    expect(alice.pendingPrompts().map((p) => p.callback_id)).toEqual(['sdk-1']);

    const accepted = await prompt.answer(true, 'looks fine');
    expect(accepted).toMatchObject({ type: 'confirmation_accepted', callback_id: 'sdk-1', proceed: true, feedback: 'looks fine' });
    expect((await waiting).body).toMatchObject({ state: 'confirmed', proceed: true, feedback: 'looks fine' });
    expect(alice.pendingPrompts()).toEqual([]);
    expect(events.all('promptResolved')).toMatchObject([{ by: 'here', state: 'confirmed', proceed: true }]);
  });

  it('keeps two tabs of one user in step, and rejects answers with the server code', async () => {
    const tabA = client(t.wsUrl, { userId: 'bea' });
    const tabB = client(t.wsUrl, { userId: 'bea' });
    const mallory = client(t.wsUrl, { userId: 'mallory' });
    await Promise.all([tabA.events.connected(), tabB.events.connected(), mallory.events.connected()]);
    await ask(t, 'bea', 'sdk-two-tabs');
    const inA = (await tabA.events.waitFor('prompt')) as Prompt;
    await tabB.events.waitFor('prompt');

    await inA.answer(false);
    const resolvedInB = await tabB.events.waitFor('promptResolved');
    expect(resolvedInB).toMatchObject({ by: 'elsewhere', state: 'rejected', proceed: false });
    expect(tabB.client.pendingPrompts()).toEqual([]);

    const late = tabB.client.answer('sdk-two-tabs', true);
    await expect(late).rejects.toBeInstanceOf(GatewayRequestError);
    await expect(late).rejects.toMatchObject({ code: 'already_resolved', action: 'confirm' });
    await ask(t, 'bea', 'sdk-not-yours');
    await expect(mallory.client.answer('sdk-not-yours', true)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(mallory.client.answer('no-such-prompt', true)).rejects.toMatchObject({ code: 'callback_not_found' });
    expect(tabA.events.all('prompt')).toHaveLength(2);
    expect(tabB.events.all('promptResolved')).toHaveLength(1);
  });

  it('loses and doubles no prompt across a reconnect', async () => {
    const carol = client(t.wsUrl, { userId: 'carol', reconnect: { baseDelayMs: 300, maxDelayMs: 300 } });
    const otherTab = client(t.wsUrl, { userId: 'carol' });
    await Promise.all([carol.events.connected(), otherTab.events.connected()]);
    await ask(t, 'carol', 'keep-1');
    await ask(t, 'carol', 'settle-while-away');
    await carol.events.waitFor('prompt', (p) => p.callback_id === 'settle-while-away');
    await otherTab.events.waitFor('prompt', (p) => p.callback_id === 'settle-while-away');

    // Only carol's first tab is cut off; while it is away one prompt is answered elsewhere and one is new.
    const cutAt = carol.events.events.length;
    const [firstConnection] = t.app.get(ConnectionService).connectionsOfUser('carol');
    firstConnection.socket.terminate();
    await carol.events.waitFor('state', (s) => s.state === 'disconnected', 5000, cutAt);
    await otherTab.client.answer('settle-while-away', true);
    await ask(t, 'carol', 'new-while-away');
    await carol.events.connected(cutAt);

    const ids = (list: Array<{ callback_id: string }>) => list.map((p) => p.callback_id).sort();
    expect(ids(carol.client.pendingPrompts())).toEqual(['keep-1', 'new-while-away']);
    expect(ids(carol.events.all('prompt'))).toEqual(['keep-1', 'new-while-away', 'settle-while-away']);
    const resolved = carol.events.all('promptResolved');
    expect(resolved).toHaveLength(1);
    // Resumed: the resolution sent while away arrives itself, so the SDK knows how it was settled.
    expect(resolved[0]).toMatchObject({ by: 'elsewhere', state: 'confirmed', prompt: { callback_id: 'settle-while-away' } });
    // The re-sent prompt can still be answered, once.
    await expect(carol.client.pendingPrompts().find((p) => p.callback_id === 'keep-1')!.answer(true)).resolves.toMatchObject({ proceed: true });
  });

  it('without resume, reports each re-sent prompt once, and the one answered elsewhere meanwhile as gone', async () => {
    // The first retry waits 30 s (a fixed draw from its 60 s window) unless the test calls retryNow().
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.5);
    try {
      const kim = client(t.wsUrl, { userId: 'kim', resume: false, reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
      const otherTab = client(t.wsUrl, { userId: 'kim' });
      await Promise.all([kim.events.connected(), otherTab.events.connected()]);
      const stepFrames: string[] = [];
      kim.client.on('frame', (frame) => {
        if (frame.type === 'task_step_result') stepFrames.push(String(frame.callback_id));
      });
      await ask(t, 'kim', 'still-pending');
      await ask(t, 'kim', 'answered-elsewhere');
      await kim.events.waitFor('prompt', (p) => p.callback_id === 'answered-elsewhere');
      await otherTab.events.waitFor('prompt', (p) => p.callback_id === 'answered-elsewhere');

      const cutAt = kim.events.events.length;
      for (const connection of [...t.app.get(ConnectionService).connectionsOfUser('kim')]) {
        if (connection.id === kim.client.connectionId) connection.socket.terminate();
      }
      await kim.events.waitFor('state', (s) => s.retryInMs !== undefined, 5000, cutAt);
      await otherTab.client.answer('answered-elsewhere', true);
      kim.client.retryNow();
      await kim.events.connected(cutAt);
      await sleep(200);

      expect(stepFrames).toEqual(['still-pending', 'answered-elsewhere', 'still-pending']); // re-sent, not resumed
      expect(kim.events.all('resumed')).toEqual([]);
      expect(kim.events.all('prompt').map((p) => p.callback_id)).toEqual(['still-pending', 'answered-elsewhere']);
      expect(kim.client.pendingPrompts().map((p) => p.callback_id)).toEqual(['still-pending']);
      expect(kim.events.all('promptResolved')).toEqual([
        expect.objectContaining({ by: 'gone', state: null, proceed: null, prompt: expect.objectContaining({ callback_id: 'answered-elsewhere' }) }),
      ]);
      await expect(kim.client.pendingPrompts()[0].answer(false)).resolves.toMatchObject({ callback_id: 'still-pending', proceed: false });
    } finally {
      random.mockRestore();
    }
  });

  it('resumes after a reconnect: what was sent while away arrives once and in order, on every stream', async () => {
    expect((await t.http('POST', '/tasks/task-e/subscribers', { user_id: 'erin' })).status).toBe(201);
    const erin = client(t.wsUrl, { userId: 'erin', reconnect: { baseDelayMs: 300, maxDelayMs: 300 } });
    await erin.events.connected();
    await erin.client.subscribeTask('task-e');
    await t.http('POST', '/users/erin/messages', { type: 'personal_notification', message: 'n0' });
    await erin.events.waitFor('notice');

    for (let round = 1; round <= 3; round++) {
      const cutAt = erin.events.events.length;
      severUser(t, 'erin');
      await erin.events.waitFor('state', (s) => s.state === 'disconnected', 5000, cutAt);
      await t.http('POST', '/users/erin/messages', { type: 'personal_notification', message: `n${round}a` });
      await t.http('POST', '/tasks/task-e/messages', { type: 'task_progress', progress: round * 10 });
      await t.http('POST', '/broadcast', { type: 'system_notification', message: `b${round}` });
      await t.http('POST', '/users/erin/messages', { type: 'personal_notification', message: `n${round}b` });
      await erin.events.connected(cutAt);
      await erin.events.waitFor('resumed', (r) => r.stream === 'task', 5000, cutAt);
    }
    await sleep(200);
    const notices = erin.events.all('notice').map((n) => n.message);
    expect(notices.filter((m) => m.startsWith('n'))).toEqual(['n0', 'n1a', 'n1b', 'n2a', 'n2b', 'n3a', 'n3b']);
    expect(notices.filter((m) => m.startsWith('b'))).toEqual(['b1', 'b2', 'b3']);
    expect(erin.events.all('taskProgress').map((p) => p.progress)).toEqual([10, 20, 30]);
    const resumed = erin.events.all('resumed');
    expect(resumed.map((r) => r.stream).sort()).toEqual(['broadcast', 'broadcast', 'broadcast', 'task', 'task', 'task', 'user', 'user', 'user']);
    expect(resumed.every((r) => r.recovered)).toBe(true);
    expect(erin.client.positions().user).toMatchObject({ offset: 7 });
    expect(erin.client.positions().tasks['task-e']).toMatchObject({ offset: 3 });
  });

  it('acknowledges requires_ack messages by itself and reports each once, across a reconnect', async () => {
    const gina = client(t.wsUrl, { userId: 'gina', resume: false, reconnect: { baseDelayMs: 200, maxDelayMs: 200 } });
    await gina.events.connected();
    const answer = await t.http('POST', '/users/gina/messages?wait_ack_seconds=5', { type: 'personal_notification', message: 'acked', requires_ack: true });
    expect(answer.body).toMatchObject({ state: 'acknowledged', acked_by: 'gina' });
    expect(await gina.events.waitFor('notice')).toMatchObject({ message: 'acked', requires_ack: true });

    // Sent while away: it arrives (re-sent as unacknowledged) after the reconnect, is acked, and is reported once.
    const cutAt = gina.events.events.length;
    severUser(t, 'gina');
    await gina.events.waitFor('state', (s) => s.state === 'disconnected', 5000, cutAt);
    const sent = await t.http('POST', '/users/gina/messages', { type: 'personal_notification', message: 'while away', requires_ack: true });
    await gina.events.connected(cutAt);
    await gina.events.waitFor('notice', (n) => n.message === 'while away', 5000, cutAt);
    await sleep(300);
    expect((await t.http('GET', `/messages/${sent.body.message_id}`)).body).toMatchObject({ state: 'acknowledged', acked_by: 'gina' });
    expect(gina.events.all('notice').map((n) => n.message)).toEqual(['acked', 'while away']);
  });

  it('follows tasks across a reconnect and reports heartbeats, progress, notices, cancellation and RTT', async () => {
    const dan = client(t.wsUrl, { userId: 'dan', reconnect: { baseDelayMs: 100, maxDelayMs: 100 } });
    await dan.events.connected();
    expect(dan.events.all('rtt').length).toBeGreaterThan(0);
    expect(await dan.client.ping()).toBeGreaterThanOrEqual(0);
    await expect(dan.client.subscribeTask('task-d')).rejects.toMatchObject({ code: 'forbidden', action: 'subscribe' });
    expect((await t.http('POST', '/tasks/task-d/subscribers', { user_id: 'dan' })).status).toBe(201);
    expect(await dan.client.subscribeTask('task-d')).toMatchObject({ subscribed_tasks: ['task-d'] });

    const cutAt = dan.events.events.length;
    severUser(t, 'dan');
    await dan.events.connected(cutAt);
    await sleep(100); // the renewed subscription is answered after the sync ping
    await t.http('POST', '/tasks/task-d/messages', { type: 'task_progress', progress: 40, message: 'Loading' });
    expect(await dan.events.waitFor('taskProgress')).toMatchObject({ task_id: 'task-d', progress: 40 });
    await t.http('POST', '/broadcast', { type: 'system_notification', message: 'Maintenance at 6', severity: 'warning' });
    expect(await dan.events.waitFor('notice')).toMatchObject({ type: 'system_notification', severity: 'warning' });
    await t.http('POST', '/users/dan/messages', { type: 'report_ready', url: '/r/1' });
    expect(await dan.events.waitFor('message')).toMatchObject({ type: 'report_ready', target_user_id: 'dan' });

    await t.http('POST', '/heartbeats', { user_id: 'dan', task_id: 'task-h', interval_seconds: 60 });
    expect(await dan.events.waitFor('heartbeat')).toMatchObject({ task_id: 'task-h' });
    expect(await dan.client.cancelTask('task-h')).toMatchObject({ type: 'task_cancelled', task_id: 'task-h', user_id: 'dan' });
    await expect(dan.client.cancelTask('not-dans')).rejects.toMatchObject({ code: 'forbidden', action: 'cancel' });
    expect(await dan.client.unsubscribeTask('task-d')).toMatchObject({ subscribed_tasks: [] });
  });

  it('stops for good on 4008 (replaced by a newer connection) and says why', async () => {
    const small = await startTestApp({ WEBSOCKET_MAX_CONNECTIONS_PER_USER: 1 });
    try {
      const first = client(small.wsUrl, { userId: 'erin' });
      await first.events.connected();
      const second = client(small.wsUrl, { userId: 'erin' });
      await second.events.connected();
      const stopped = await first.events.waitFor('state', (s) => s.stopped === true);
      expect(stopped).toMatchObject({ state: 'disconnected', closeCode: 4008 });
      expect(first.client.stopReason).toMatch(/newer connection/);
      await sleep(300);
      expect(second.client.state).toBe('connected');
      await expect(first.client.answer('x', true)).rejects.toMatchObject({ code: 'not_connected' });
    } finally {
      for (const c of started.splice(0)) c.disconnect();
      await small.close();
    }
  });

  it('stops for good on 1008 (closed for flooding) and says why', async () => {
    const strict = await startTestApp({ WEBSOCKET_RATE_LIMIT: 1, WEBSOCKET_RATE_BURST: 1, WEBSOCKET_RATE_ABUSE_LIMIT: 5 });
    try {
      const flooder = client(strict.wsUrl, { userId: 'fay' });
      await flooder.events.connected();
      for (let i = 0; i < 20; i++) void flooder.client.ping().catch(() => undefined);
      const stopped = await flooder.events.waitFor('state', (s) => s.stopped === true);
      expect(stopped).toMatchObject({ state: 'disconnected', closeCode: 1008 });
      expect(flooder.client.stopReason).toMatch(/flooding/);
      await sleep(300);
      expect(flooder.client.state).toBe('disconnected'); // no reconnect
    } finally {
      for (const c of started.splice(0)) c.disconnect();
      await strict.close();
    }
  });
});

describe('SDK reconnects', () => {
  it('after the server restarts on the same port, with jittered back-off within its bounds', async () => {
    const first = await startTestApp();
    const port = new URL(first.baseUrl).port;
    const frank = client(first.wsUrl, { userId: 'frank', reconnect: { baseDelayMs: 40, maxDelayMs: 320 } });
    await frank.events.connected();
    const downAt = frank.events.events.length;
    await first.close();
    await frank.events.waitFor('shutdown', () => true, 3000, downAt);
    // While the port is closed every attempt fails; let it back off several times.
    await sleep(2000);
    const second = await startTestApp({ WEBSOCKET_PORT: Number(port) });
    try {
      await frank.events.connected(downAt);
      const retries = frank.events.events.slice(downAt).filter((e) => e.event === 'state' && e.payload.retryInMs !== undefined);
      expect(retries.length).toBeGreaterThanOrEqual(5);
      for (const { payload } of retries) {
        expect(payload.retryInMs).toBeGreaterThanOrEqual(0);
        expect(payload.retryInMs).toBeLessThanOrEqual(Math.min(320, 40 * 2 ** (payload.attempt - 1)));
      }
      expect(new Set(retries.map((r) => r.payload.retryInMs)).size).toBeGreaterThan(1);
      expect(retries[0].payload.reason).toMatch(/restarting|Server shutting down/);
      // The attempts really wait: each next `connecting` comes no earlier than its announced delay.
      const states = frank.events.events.slice(downAt).filter((e) => e.event === 'state');
      for (let i = 0; i + 1 < states.length; i++) {
        if (states[i].payload.retryInMs !== undefined && states[i + 1].payload.state === 'connecting') {
          expect(states[i + 1].at - states[i].at).toBeGreaterThanOrEqual(states[i].payload.retryInMs - 5);
        }
      }
      await second.http('POST', '/notify?wait=false', notifyBody('frank', 'task-f', { callback_id: 'after-restart' }));
      expect(await frank.events.waitFor('prompt', (p) => p.callback_id === 'after-restart')).toBeDefined();
    } finally {
      frank.client.disconnect();
      await second.close();
    }
  });

  it('gives a slow opening handshake handshakeTimeoutMs, not requestTimeoutMs, and gives up on one past it', async () => {
    // A stand-in server that greets after `delayMs`: a busy instance in a reconnect storm.
    let delayMs = 600;
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (offered) => [...offered][0] ?? false });
    server.on('connection', (socket) => {
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data));
        if (frame.action === 'ping') socket.send(JSON.stringify({ type: 'pong', timestamp: Date.now() / 1000, original_data: frame }));
      });
      setTimeout(() => socket.send(JSON.stringify({ type: 'connected', connection_id: 'c1', user_id: 'gina', server_time: Date.now() / 1000 })), delayMs);
    });
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
    const patient = client(url, { userId: 'gina', resume: false, requestTimeoutMs: 200, handshakeTimeoutMs: 3000 });
    try {
      await patient.events.connected();
      expect(patient.events.events.filter((e) => e.event === 'state' && e.payload.state === 'disconnected')).toEqual([]);
      patient.client.disconnect();
      delayMs = 60_000;
      const hasty = client(url, { userId: 'gina', resume: false, handshakeTimeoutMs: 300, reconnect: { baseDelayMs: 10_000, maxDelayMs: 10_000 } });
      try {
        const dropped = await hasty.events.waitFor('state', (p) => p.state === 'disconnected', 3000);
        expect(dropped.reason).toBe('no handshake in time');
      } finally {
        hasty.client.disconnect();
      }
    } finally {
      patient.client.disconnect();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('computes full-jitter delays: uniform below min(max, base * 2^n)', () => {
    expect(backoffDelay(0, {}, () => 0.999999)).toBe(499);
    expect(backoffDelay(3, {}, () => 0.5)).toBe(2000);
    expect(backoffDelay(10, {}, () => 0.999999)).toBe(19_999);
    expect(backoffDelay(1000, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 0.5)).toBe(500);
    expect(backoffDelay(2, {}, () => 0)).toBe(0);
    const samples = Array.from({ length: 2000 }, () => backoffDelay(4, { baseDelayMs: 500, maxDelayMs: 20_000 }));
    expect(Math.max(...samples)).toBeLessThan(8000);
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    // Spread over the window: each quarter gets a fair share.
    for (let q = 0; q < 4; q++) {
      const inQuarter = samples.filter((s) => s >= q * 2000 && s < (q + 1) * 2000).length;
      expect(inQuarter).toBeGreaterThan(350);
    }
  });
});

describe('SDK with JWT', () => {
  const SECRET = 'an-sdk-test-secret-that-is-long-enough-42';
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET });
  });
  afterAll(() => t.close());

  const token = (sub: string, expiresInSeconds: number) =>
    new SignJWT({ sub })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
      .sign(new TextEncoder().encode(SECRET));

  it('asks getToken() again when the token expires (4001) and carries on with the same client', async () => {
    const lifetimes = [3, 3600];
    let calls = 0;
    const gina = client(t.wsUrl, { getToken: () => token('gina', lifetimes[Math.min(calls++, 1)]) });
    await gina.events.connected();
    expect(gina.client.userId).toBe('gina');
    const expired = await gina.events.waitFor('state', (s) => s.closeCode === 4001, 8000);
    expect(expired.retryInMs).toBeUndefined(); // no back-off for a token refresh
    await gina.events.connected(gina.events.events.indexOf(gina.events.events.find((e) => e.payload === expired)!));
    expect(calls).toBe(2);
    await ask(t, 'gina', 'after-refresh');
    expect(await gina.events.waitFor('prompt')).toMatchObject({ callback_id: 'after-refresh' });
  });

  it('offers gateway.v1 beside the token, so the server selects that and never shows the token', async () => {
    const jwt = await token('gwen', 3600);
    const gwen = client(t.wsUrl, { getToken: () => jwt });
    await gwen.events.connected();
    const listing = await t.http('GET', '/connections?user_id=gwen');
    expect(listing.body.connections.map((c: { protocol: string | null }) => c.protocol)).toEqual(['gateway.v1']);
    expect(JSON.stringify(listing.body)).not.toContain(jwt);
  });

  it('stops when the server refuses the token, after one retry with a fresh one', async () => {
    let calls = 0;
    const bad = client(t.wsUrl, {
      getToken: () => {
        calls += 1;
        return 'not-a-valid-token';
      },
    });
    const stopped = await bad.events.waitFor('state', (s) => s.stopped === true);
    expect(stopped.reason).toMatch(/refused the credentials \(401\)/);
    expect(calls).toBe(2);
  });

  it('stops in a browser too, where the refusal comes as a 4003 close after the handshake', async () => {
    // What a browser's WebSocket does: sends Origin and cannot read an upgrade's status.
    class BrowserLikeWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers: { origin: 'http://inbox.example' } });
      }
    }
    let calls = 0;
    const bad = client(t.wsUrl, {
      WebSocket: BrowserLikeWebSocket as unknown as GatewayClientOptions['WebSocket'],
      getToken: () => {
        calls += 1;
        return 'not-a-valid-token';
      },
    });
    const stopped = await bad.events.waitFor('state', (s) => s.stopped === true);
    expect(stopped.closeCode).toBe(4003);
    expect(stopped.reason).toMatch(/refused the credentials/);
    expect(calls).toBe(2);
  });
});
