import { afterEach, describe, expect, it } from '@jest/globals';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestClient } from './support/test-client.js';
import { notifyBody, request } from './support/test-app.js';

const MAIN = resolve('dist/main.js');
/** Outside the repo, so a developer's .env cannot change the service under test. */
const CWD = tmpdir();

interface Started {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
}

/** Starts the production build as users do, on a free port, and waits until it listens. */
async function startBuiltService(env: Record<string, string> = {}, cwd = CWD): Promise<Started> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: npm test builds it first`);
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH, WEBSOCKET_HOST: '127.0.0.1', WEBSOCKET_PORT: '0', LOG_LEVEL: 'log', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
    if (match) return { child, baseUrl: `http://127.0.0.1:${match[1]}`, output: () => output };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`service did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A WebSocket peer over a raw TCP socket that upgrades and then never answers anything, not
 * even a close frame. `cut` resolves when the server drops its TCP connection.
 */
async function openMutePeer(baseUrl: string, userId: string) {
  const socket = connect(Number(new URL(baseUrl).port), '127.0.0.1');
  let received = Buffer.alloc(0);
  let closeFrameAt: number | undefined;
  const cut = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    // The server's close frame carries the reason; nothing else it sends does.
    if (closeFrameAt === undefined && received.includes('Server shutting down')) closeFrameAt = Date.now();
  });
  await once(socket, 'connect');
  socket.write(
    `GET /?user_id=${userId} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await waitUntil(() => received.includes('"type":"connected"'), 5000, `${userId}'s connected frame`);
  return { cut, closeFrameAt: () => closeFrameAt };
}

describe('graceful shutdown of the built service (real process, real signal)', () => {
  let started: Started | undefined;
  afterEach(() => {
    if (started?.child.exitCode === null) started.child.kill('SIGKILL');
  });

  it('on SIGTERM: readiness, upgrades and new POST /notify answer 503 while it drains, clients are told and closed with 1001, a peer that never completes the close handshake is cut after a second, waiting callers get 503, the process exits 0', async () => {
    started = await startBuiltService({ SHUTDOWN_GRACE_SECONDS: '5' });
    const { child, baseUrl } = started;
    const wsUrl = baseUrl.replace('http', 'ws');
    expect((await request(baseUrl, 'GET', '/health')).status).toBe(200);

    const client = await TestClient.open(`${wsUrl}/?user_id=alice`);
    await client.next('connected');
    const waiting = request(baseUrl, 'POST', '/notify', notifyBody('alice', 'task-1', { callback_id: 'cb-term' }));
    await client.next('task_step_result');
    // It holds the drain open for the second the server gives it, so what arrives in that
    // second meets a draining server, not a closed port.
    const mute = await openMutePeer(baseUrl, 'mute');

    const exited = once(child, 'exit');
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    expect((await client.next('server_shutdown')).type).toBe('server_shutdown');
    const [readiness, lateUpgrade, lateNotify] = await Promise.all([
      request(baseUrl, 'GET', '/health'),
      TestClient.open(`${wsUrl}/?user_id=late`).then(
        (late) => (late.terminate(), 'accepted'),
        (err: Error) => err.message,
      ),
      request(baseUrl, 'POST', '/notify', notifyBody('bob', 'task-2', { callback_id: 'cb-late' })),
    ]);
    const probesAnsweredAt = Date.now();
    expect(readiness.status).toBe(503);
    expect(readiness.body.error.websocket).toMatchObject({ status: 'down', message: 'shutting down' });
    expect(lateUpgrade).toMatch(/^upgrade refused: 503 /);
    expect(lateNotify.status).toBe(503);
    // Refused up front (nothing created), not taken and then cut short like the waiting call.
    expect(lateNotify.body).toMatchObject({ code: 'unavailable', message: 'Shutting down; retry with the same callback_id' });
    expect(lateNotify.headers.get('retry-after')).toBe('1');

    expect(await client.closed).toBe(1001);
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(answer.body.callback_id).toBe('cb-term');

    const cutAt = await mute.cut;
    expect(mute.closeFrameAt()).toBeDefined();
    expect(probesAnsweredAt).toBeLessThanOrEqual(cutAt);
    // PROTOCOL 1.7: terminated when the close handshake is not done after 1 s.
    expect(cutAt - mute.closeFrameAt()!).toBeGreaterThanOrEqual(800);
    expect(cutAt - mute.closeFrameAt()!).toBeLessThan(2500);

    const [code, signal] = await exited;
    expect(Date.now() - signalledAt).toBeLessThan(5000);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(started.output()).toContain('SIGTERM: draining');
  });

  it('exits 1 when the grace period runs out before the drain is done (a request whose body never ends holds it)', async () => {
    started = await startBuiltService({ SHUTDOWN_GRACE_SECONDS: '1' });
    const { child, baseUrl } = started;
    const held = connect(Number(new URL(baseUrl).port), '127.0.0.1');
    let reply = '';
    held.on('data', (chunk) => (reply += chunk));
    held.on('error', () => {});
    await once(held, 'connect');
    // `Expect: 100-continue` makes the server say when it has the headers: from then on the
    // request is in progress and closing the HTTP server waits for it.
    held.write('POST /notify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n{');
    await waitUntil(() => reply.includes('100 Continue'), 5000, 'the 100 Continue');

    const exited = once(child, 'exit');
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    const took = Date.now() - signalledAt;
    held.destroy();
    expect({ code, signal }).toEqual({ code: 1, signal: null });
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(4000);
    expect(started.output()).toContain('Shutdown grace period over');
  });

  it('leaves SIGUSR2 to heap snapshots, and drains on SIGHUP like on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-signals-'));
    try {
      started = await startBuiltService({ NODE_OPTIONS: '--heapsnapshot-signal=SIGUSR2' }, dir);
      const { child, baseUrl } = started;
      child.kill('SIGUSR2');
      const deadline = Date.now() + 15_000;
      while (!readdirSync(dir).some((name) => name.endsWith('.heapsnapshot')) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(readdirSync(dir).some((name) => name.endsWith('.heapsnapshot'))).toBe(true);
      expect((await request(baseUrl, 'GET', '/health')).status).toBe(200);

      const exited = once(child, 'exit');
      child.kill('SIGHUP');
      const [code, signal] = await exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(started.output()).toContain('SIGHUP: draining');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start in production without its secrets, naming the variables', async () => {
    const child = spawn(process.execPath, [MAIN], {
      cwd: CWD,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', WEBSOCKET_PORT: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(output).toContain('AUTH_MODE');
    expect(output).toContain('API_KEYS');
  });
});
