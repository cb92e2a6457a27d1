import { afterEach, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { connect } from 'node:net';
import { BuiltService, startBuiltService } from './support/built-service.js';
import { notifyBody, request, sleep } from './support/test-app.js';
import { TestClient } from './support/test-client.js';

const JWT_SECRET = 'log-test-secret-that-is-at-least-32-chars';
const API_KEY = 'log-test-api-key-9f8e7d';
const WRONG_KEY = 'log-test-wrong-key-1a2b3c';
const QUERY_SECRET = 'log-test-query-secret-4d5e6f';
const AUTH = { authorization: `Bearer ${API_KEY}` };

const PRODUCTION = { NODE_ENV: 'production', AUTH_MODE: 'jwt', JWT_SECRET, API_KEYS: API_KEY };

function tokenFor(user: string): Promise<string> {
  return new SignJWT({ sub: user })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

type Line = Record<string, any>;

/** Every stdout line, each of which must be one JSON object. */
function jsonLines(output: string): Line[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Line;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
}

/** A refused upgrade's status, or 101. */
function upgradeStatus(url: string, headers: Record<string, string> = {}, protocols?: string[]): Promise<number> {
  return TestClient.open(url, { headers, ...(protocols && { protocol: protocols.join(',') }) }).then(
    (client) => {
      client.terminate();
      return 101;
    },
    (err: Error) => Number(/upgrade refused: (\d+)/.exec(err.message)?.[1] ?? 0),
  );
}

/** A WebSocket upgrade with an Origin header of raw bytes (latin1); its status. */
function upgradeWithOrigin(baseUrl: string, origin: string): Promise<number> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      const head = `GET / HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: ${origin}\r\n\r\n`;
      socket.write(Buffer.from(head, 'latin1'));
    });
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (status) {
        socket.destroy();
        resolve(Number(status[1]));
      }
    });
    socket.on('error', reject);
  });
}

describe('logs of the built service (real process, real stdout)', () => {
  let service: BuiltService | undefined;
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  it('writes JSON lines in production, with request ids, socket ids and users, and never a key or token', async () => {
    service = await startBuiltService({ ...PRODUCTION, LOG_LEVEL: 'debug' });
    const { baseUrl, wsUrl } = service;
    const aliceToken = await tokenFor('alice');
    const mallory = await tokenFor('mallory');

    const given = await request(baseUrl, 'GET', `/status?token=${QUERY_SECRET}`, undefined, { ...AUTH, 'x-request-id': 'caller-req-42' });
    expect(given.status).toBe(200);
    expect(given.headers.get('x-request-id')).toBe('caller-req-42');
    const refused = await request(baseUrl, 'GET', '/status', undefined, { authorization: `Bearer ${WRONG_KEY}` });
    expect(refused.status).toBe(401);
    const generated = refused.headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const notified = await request(baseUrl, 'POST', '/notify?wait=false', notifyBody('alice', 'logged-task', { callback_id: 'logged-1' }), { ...AUTH, 'x-request-id': 'notify-req-7' });
    expect(notified.status).toBe(202);
    const junkId = await request(baseUrl, 'GET', '/health', undefined, { 'x-request-id': 'not an id\u00e9' });
    expect(junkId.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const alice = await TestClient.open(`${wsUrl}/?token=${aliceToken}`);
    const { connection_id: aliceConnection } = await alice.next('connected');
    expect(await upgradeStatus(`${wsUrl}/ws?token=${mallory.slice(0, -4)}AAAA`)).toBe(401);
    expect(await upgradeStatus(`${wsUrl}/`, { authorization: `Bearer ${mallory}x` })).toBe(401);
    expect(await upgradeStatus(`${wsUrl}/`, {}, [`bearer.${mallory}y`])).toBe(401);
    alice.socket.close(1000);
    await alice.closed;
    await sleep(200);
    await service.stop();

    const output = service.stdout();
    const lines = jsonLines(output);
    for (const secret of [API_KEY, WRONG_KEY, QUERY_SECRET, JWT_SECRET, aliceToken, mallory, mallory.slice(0, -4)]) {
      expect(output).not.toContain(secret);
    }
    for (const line of lines) {
      expect(line).toMatchObject({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) });
    }
    expect(lines.filter((l) => l.context === 'Bootstrap').length).toBeGreaterThan(0);

    const askedWithId = lines.filter((l) => l.reqId === 'caller-req-42');
    expect(askedWithId).toEqual([
      expect.objectContaining({ level: 'debug', context: 'HTTP', req: { method: 'GET', url: '/status?token=[Redacted]' }, res: { statusCode: 200 } }),
    ]);
    // A line a service writes while handling the request carries the request's id too.
    expect(lines.filter((l) => l.reqId === 'notify-req-7').map((l) => [l.context, l.msg])).toEqual([
      ['ConfirmationService', expect.stringMatching(/^Confirmation logged-1 created for user alice/)],
      ['HTTP', expect.stringMatching(/^POST \/notify\?wait=false 202 in \d+ ms$/)],
    ]);
    expect(lines.filter((l) => l.reqId === generated)).toEqual([
      expect.objectContaining({ level: 'info', context: 'HTTP', req: { method: 'GET', url: '/status' }, res: { statusCode: 401 } }),
    ]);

    expect(lines.filter((l) => l.connectionId === aliceConnection).map((l) => [l.msg, l.userId])).toEqual([
      ['Connection opened', 'alice'],
      ['Connection closed', 'alice'],
    ]);
    expect(lines.filter((l) => l.msg?.startsWith('Upgrade refused')).map((l) => l.reason)).toEqual(['unauthorized', 'unauthorized', 'unauthorized']);
  }, 60_000);

  it('writes readable lines in development: time, level, context, message, and the fields after', async () => {
    service = await startBuiltService({ API_KEYS: API_KEY });
    const asked = await request(service.baseUrl, 'POST', '/notify?wait=false', notifyBody('erin', 'dev-task', { callback_id: 'dev-1' }), AUTH);
    expect(asked.status).toBe(202);
    await sleep(100);
    await service.stop();
    const lines = service.stdout().split('\n').filter((line) => line.trim() !== '');
    for (const line of lines) expect(() => JSON.parse(line)).toThrow();
    expect(lines).toContainEqual(expect.stringMatching(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: \[Bootstrap\] Confirmation gateway listening on /));
    expect(lines).toContainEqual(expect.stringMatching(/INFO: \[ConfirmationService\] Confirmation dev-1 created for user erin.*\{"reqId":"[^"]+"\}$/));
    expect(service.stdout()).not.toContain(API_KEY);
  }, 60_000);

  it('escapes control characters in readable lines: a value from a client cannot forge a line or drive the terminal', async () => {
    service = await startBuiltService({ API_KEYS: API_KEY, LOG_LEVEL: 'debug', WEBSOCKET_ALLOWED_ORIGINS: 'http://inbox.example' });
    const forged = `mallory\n12:00:00.000 INFO: [Auth] admin signed in`;
    // Ids with a newline: logged escaped, or refused where ids are checked; never a line of their own.
    await request(service.baseUrl, 'POST', '/notify?wait=false', notifyBody(forged, 'dev-task'), AUTH);
    await upgradeStatus(`${service.wsUrl}/?user_id=${encodeURIComponent(forged)}`);
    // HTTP takes bytes 0x80-0xFF in a header: C1 controls (NEL, CSI), logged by the Origin refusal.
    expect(await upgradeWithOrigin(service.baseUrl, 'http://evil.example\x85\x9b31m')).toBe(403);
    await sleep(100);
    await service.stop();
    const lines = service.stdout().split('\n').filter((line) => line !== '');
    for (const line of lines) expect(line).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] [A-Z]+: /);
    expect(service.stdout()).toContain('Upgrade refused: Origin http://evil.example\\u0085\\u009b31m is not allowed');
  }, 60_000);

  it('logs one line per confirmation outcome, with its fields, a timeout included', async () => {
    service = await startBuiltService({ ...PRODUCTION });
    const { baseUrl } = service;
    const asked = await request(baseUrl, 'POST', '/notify?wait=false', notifyBody('carol', 'expiring-task', { callback_id: 'expiring-1', timeout_seconds: 0.2 }), AUTH);
    expect(asked.status).toBe(202);
    const settled = await request(baseUrl, 'GET', '/confirmations/expiring-1?wait_seconds=10', undefined, AUTH);
    expect(settled.body.state).toBe('timed_out');
    await sleep(100);
    await service.stop();

    const about = jsonLines(service.stdout()).filter((l) => l.context === 'ConfirmationService' && l.msg.includes('expiring-1'));
    expect(about.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^Confirmation expiring-1 created for user carol/),
      expect.stringMatching(/^Confirmation expiring-1 timed_out \(user carol, task expiring-task, after [\d.]+ s; decision: proceed\)$/),
    ]);
    expect(about[1]).toMatchObject({ level: 'info', callbackId: 'expiring-1', userId: 'carol', taskId: 'expiring-task', state: 'timed_out' });
    expect(about[1].decisionSeconds).toBeGreaterThanOrEqual(0.2);
    expect(about[1].decisionSeconds).toBeLessThan(10);
  }, 60_000);

  it('names the connection that answered a prompt or cancelled a task on the outcome lines', async () => {
    service = await startBuiltService({ ...PRODUCTION });
    const { baseUrl, wsUrl } = service;
    const dora = await TestClient.open(`${wsUrl}/?token=${await tokenFor('dora')}`);
    const { connection_id: doraConnection } = await dora.next('connected');
    const asked = request(baseUrl, 'POST', '/notify', notifyBody('dora', 'answered-task', { callback_id: 'answered-1' }), AUTH);
    await dora.next('task_step_result');
    await dora.request({ action: 'confirm', callback_id: 'answered-1', proceed: false, feedback: '数据有误' }, 'confirmation_accepted');
    expect((await asked).status).toBe(200);
    await request(baseUrl, 'POST', '/notify?wait=false', notifyBody('dora', 'answered-task', { callback_id: 'answered-2' }), AUTH);
    await dora.next('task_step_result');
    dora.send({ action: 'cancel', task_id: 'answered-task' });
    await dora.next('task_cancelled');
    await sleep(100);
    await service.stop();

    const lines = jsonLines(service.stdout());
    expect(lines.find((l) => l.callbackId === 'answered-1' && l.state)).toMatchObject({ state: 'rejected', userId: 'dora', connectionId: doraConnection });
    expect(lines.find((l) => l.callbackId === 'answered-2' && l.state)).toMatchObject({ state: 'cancelled', userId: 'dora' });
    expect(lines.find((l) => l.context === 'TaskService')).toMatchObject({ taskId: 'answered-task', userId: 'dora', connectionId: doraConnection, cancelledConfirmations: 1 });
  }, 60_000);

  it('writes no line per message or per answered request at the default level', async () => {
    service = await startBuiltService({ ...PRODUCTION });
    const { baseUrl, wsUrl } = service;
    const bob = await TestClient.open(`${wsUrl}/?token=${await tokenFor('bob')}`);
    await bob.next('connected');
    await sleep(100);
    const before = service.stdout();

    for (let i = 0; i < 20; i++) await bob.request({ action: 'ping', n: i }, 'pong');
    for (let i = 0; i < 5; i++) {
      const asked = request(baseUrl, 'POST', '/notify', notifyBody('bob', 'quiet-task', { callback_id: `quiet-${i}` }), AUTH);
      const prompt = await bob.next('task_step_result');
      bob.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true });
      expect((await asked).status).toBe(200);
      await request(baseUrl, 'POST', '/users/bob/messages', { type: 'note', n: i }, AUTH);
      await request(baseUrl, 'GET', '/status', undefined, AUTH);
    }
    await sleep(200);

    const during = jsonLines(service.stdout().slice(before.length));
    // A confirmation's creation and its outcome are logged (a line each), and its audit events
    // (created, delivered, answered, settled: docs/AUDIT.md); nothing per frame or request.
    const other = during.filter((l) => l.context !== 'ConfirmationService' && l.context !== 'Audit');
    expect(other).toEqual([]);
    expect(during.filter((l) => l.context === 'Audit').map((l) => l.audit)).toEqual(Array.from({ length: 5 }, () => ['created', 'delivered', 'answered', 'settled']).flat());
    expect(during.length).toBeLessThanOrEqual(6 * 5);
    bob.terminate();
  }, 60_000);
});
