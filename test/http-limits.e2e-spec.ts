import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { notifyBody, request, sleep, startTestApp, TestApp } from './support/test-app.js';

const API_KEY = 'http-limits-test-key';
const AUTH = { authorization: `Bearer ${API_KEY}` };

/** A raw connection that writes `head`, then one byte of `drip` every `everyMs`, and records what comes back. */
class DrippingSocket {
  readonly socket: Socket;
  received = '';
  closedAt: number | null = null;
  readonly openedAt = Date.now();
  private dripper?: NodeJS.Timeout;

  constructor(port: number, head: string, drip = 'x', everyMs = 200) {
    this.socket = connect(port, '127.0.0.1', () => {
      this.socket.write(head);
      this.dripper = setInterval(() => {
        if (!this.socket.destroyed && this.socket.writable) this.socket.write(drip);
      }, everyMs);
    });
    this.socket.on('data', (chunk) => (this.received += chunk.toString('latin1')));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closedAt = Date.now();
      clearInterval(this.dripper);
    });
  }

  get isOpen(): boolean {
    return this.closedAt === null;
  }

  /** Milliseconds from opening to closing, once closed (within `timeoutMs`), else null. */
  async closedWithin(timeoutMs: number): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.isOpen && Date.now() < deadline) await sleep(20);
    return this.closedAt === null ? null : this.closedAt - this.openedAt;
  }

  destroy(): void {
    clearInterval(this.dripper);
    this.socket.destroy();
  }
}

const dripping: DrippingSocket[] = [];
function drip(port: number, head: string, drip?: string, everyMs?: number): DrippingSocket {
  const socket = new DrippingSocket(port, head, drip, everyMs);
  dripping.push(socket);
  return socket;
}
afterEach(() => {
  for (const socket of dripping.splice(0)) socket.destroy();
});

const portOf = (t: TestApp) => Number(new URL(t.baseUrl).port);

/** A GET sent `delayMs` after its connection opened, as from a client far away: its status, or 0. */
function getAfter(port: number, path: string, delayMs: number): Promise<number> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => {
      setTimeout(() => socket.write(`GET ${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`), delayMs);
    });
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
  });
}

/** A GET on a connection of its own (no keep-alive pool): its status, or 0 when the connection failed. */
function freshGet(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
  });
}

/** The attack: a big announced body, no key, a byte now and then. */
const UNAUTHENTICATED_NOTIFY = 'POST /notify HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{';

describe('a refused request ends its connection (default deadlines)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: API_KEY, HTTP_MAX_BODY_BYTES: 4096 });
  });
  afterAll(() => t.close());

  it.each([
    ['401: no API key', UNAUTHENTICATED_NOTIFY, 401],
    ['413: a body over HTTP_MAX_BODY_BYTES', `POST /notify HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{`, 413],
    ['415: not JSON', `POST /notify HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\nx`, 415],
  ])('%s: answered with Connection: close, and the socket closes while the body still drips', async (_name, head, status) => {
    const attacker = drip(portOf(t), head);
    const closedAfterMs = await attacker.closedWithin(3000);
    expect(attacker.received).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(attacker.received.toLowerCase()).toContain('connection: close');
    expect(closedAfterMs).not.toBeNull();
  });

  it('keeps a well-behaved keep-alive connection open after a refused bodiless request', async () => {
    const client = drip(portOf(t), 'GET /status HTTP/1.1\r\nHost: gw\r\n\r\n', '', 60_000);
    await sleep(500);
    expect(client.received).toMatch(/^HTTP\/1.1 401 /);
    expect(client.received.toLowerCase()).toContain('connection: keep-alive');
    expect(client.isOpen).toBe(true);
  });
});

describe('headers and bodies have deadlines; answers that take long do not', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: API_KEY, HTTP_HEADERS_TIMEOUT_SECONDS: 1, HTTP_REQUEST_TIMEOUT_SECONDS: 2 });
  });
  afterAll(() => t.close());

  it('cuts a request whose headers drip in at the headers deadline (408)', async () => {
    const slow = drip(portOf(t), 'GET /health/live HTTP/1.1\r\nHost: gw\r\n', 'X-Slow: 1\r\n', 300);
    const closedAfterMs = await slow.closedWithin(5000);
    expect(closedAfterMs).not.toBeNull();
    expect(closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(slow.received).toMatch(/^HTTP\/1.1 408 /);
  });

  it('cuts a request whose body drips in at the request deadline (408), even with a valid key', async () => {
    const head = `POST /notify?wait=false HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`;
    const slow = drip(portOf(t), head, ' ', 300);
    const closedAfterMs = await slow.closedWithin(6000);
    expect(closedAfterMs).not.toBeNull();
    expect(closedAfterMs).toBeGreaterThanOrEqual(1900);
    expect(slow.received).toMatch(/^HTTP\/1.1 408 /);
  });

  it('lets a POST /notify wait for its decision, and a long-poll wait, longer than the request deadline', async () => {
    const started = Date.now();
    const [waited, created] = await Promise.all([
      request(t.baseUrl, 'POST', '/notify', notifyBody('wendy', 'slow-task', { callback_id: 'waits-3s', timeout_seconds: 3 }), AUTH),
      request(t.baseUrl, 'POST', '/notify?wait=false', notifyBody('wendy', 'slow-task', { callback_id: 'polled', step: 4 }), AUTH),
    ]);
    expect(created.status).toBe(202);
    expect(waited.status).toBe(200);
    expect(waited.body).toMatchObject({ callback_id: 'waits-3s', timed_out: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);

    const polledAt = Date.now();
    const polled = await request(t.baseUrl, 'GET', '/confirmations/polled?wait_seconds=3', undefined, AUTH);
    expect(polled.status).toBe(200);
    expect(polled.body).toMatchObject({ callback_id: 'polled', state: 'pending' });
    expect(Date.now() - polledAt).toBeGreaterThanOrEqual(2900);
  }, 15_000);
});

describe('connections holding no complete request are capped (HTTP_MAX_PENDING_CONNECTIONS)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: API_KEY, HTTP_MAX_PENDING_CONNECTIONS: 20 });
  });
  afterAll(() => t.close());

  it('closes the oldest of them past the cap, keeps the answering ones, and /health stays reachable', async () => {
    const created = await request(t.baseUrl, 'POST', '/notify?wait=false', notifyBody('carla', 'capped', { callback_id: 'capped-poll' }), AUTH);
    expect(created.status).toBe(202);
    const polling = request(t.baseUrl, 'GET', '/confirmations/capped-poll?wait_seconds=3', undefined, AUTH);
    await sleep(200);
    const silent = Array.from({ length: 60 }, () => drip(portOf(t), '', '', 60_000));
    const slowHeaders = Array.from({ length: 20 }, () => drip(portOf(t), 'GET /health HTTP/1.1\r\n', 'X: y\r\n', 500));
    const flood = [...silent, ...slowHeaders];
    await sleep(300);
    // Young ones are spared up to twice the cap.
    expect(flood.filter((s) => s.isOpen).length).toBeLessThanOrEqual(40);
    await sleep(1000);
    // On a new connection, those pending for a second or more go, oldest first, down to the cap.
    for (const path of ['/health', '/health/live']) expect(await freshGet(portOf(t), path)).toBe(200);
    await sleep(100);
    expect(flood.filter((s) => s.isOpen).length).toBeLessThanOrEqual(20);
    expect(slowHeaders.at(-1)!.isOpen).toBe(true);
    const metrics = await request(t.baseUrl, 'GET', '/metrics', undefined, AUTH);
    const shed = Number(/^gateway_http_connections_shed_total (\d+)$/m.exec(String(metrics.body))?.[1]);
    expect(shed).toBeGreaterThanOrEqual(60);
    // The long-poll was answering, not pending: it was left alone.
    expect(await polling).toMatchObject({ status: 200, body: { callback_id: 'capped-poll', state: 'pending' } });
  }, 10_000);

  it('lets a burst of new connections beyond the cap in, requests a round trip behind (clients reconnecting after a restart)', async () => {
    const statuses = await Promise.all(Array.from({ length: 39 }, () => getAfter(portOf(t), '/health/live', 100)));
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });

  it('does not count WebSockets: more of them than the cap stay open', async () => {
    const tabs = await Promise.all(Array.from({ length: 30 }, (_, i) => t.connect(`tab-${i}`)));
    drip(portOf(t), '', '', 60_000);
    await sleep(300);
    expect(tabs.filter((tab) => tab.closeCode !== null)).toEqual([]);
  });
});

/**
 * The reproduction, scaled down: the built service with a small file-descriptor limit
 * and more slow connections than descriptors. /health/live must still answer.
 */
describe('a descriptor limit is not exhausted by slow, unauthenticated connections (built service)', () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('answers /health/live with 400 dripping 401s and 400 silent connections open, under ulimit -n 512', async () => {
    const main = resolve('dist/main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: npm test builds it first`);
    child = spawn('sh', ['-c', `ulimit -n 512 && exec "${process.execPath}" "${main}"`], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH, NODE_ENV: 'test', WEBSOCKET_HOST: '127.0.0.1', WEBSOCKET_PORT: '0', API_KEYS: API_KEY, HTTP_MAX_PENDING_CONNECTIONS: '100' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const port = await listeningPort(() => output);

    for (let i = 0; i < 400; i++) {
      drip(port, UNAUTHENTICATED_NOTIFY, 'x', 1000);
      drip(port, '', '', 60_000);
      if (i % 50 === 0) await sleep(50);
    }
    await sleep(2000);
    for (let i = 0; i < 5; i++) {
      const live = await fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(3000) });
      expect(live.status).toBe(200);
      await live.arrayBuffer();
    }
  }, 60_000);
});

async function listeningPort(output: () => string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output());
    if (match) return Number(match[1]);
    if (Date.now() > deadline) throw new Error(`service did not start:\n${output()}`);
    await sleep(50);
  }
}
