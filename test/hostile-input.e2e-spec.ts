import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ConnectionService } from '../src/connections/connection.service.js';
import { TestClient } from './support/test-client.js';
import {
  DTO_FIELDS,
  grantValid,
  heartbeatValid,
  notifyValid,
  OPTIONAL,
  PROTOTYPE_FRAMES,
  REST_WRONG,
  SOCKET_FIELDS,
  SOCKET_WRONG,
} from './support/hostile-corpus.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';
import { report } from './support/report.js';

/**
 * A storm of hostile input against ONE running server: malformed and oversized socket
 * frames, wrong types in every field, prototype keys, floods, broken UTF-8 and broken
 * WebSocket framing, bad upgrades and half-open TCP, and hostile REST requests on every
 * route. Honest users wait through it and must still get their answers through; the
 * process must stay up, answer every REST request with a 4xx, and not keep the storm in
 * memory.
 */

type Frame = Record<string, any>;

const SECRET = 'hostile-input-secret-that-is-long-enough-0123456789';
const API_KEY = 'storm-key';
const MAX_FRAME_BYTES = 16384;
const MAX_BODY_BYTES = 8192;
const ALLOWED_ORIGIN = 'https://app.example';
const MB = 1024 * 1024;

const ENV = {
  AUTH_MODE: 'jwt',
  JWT_SECRET: SECRET,
  API_KEYS: API_KEY,
  WEBSOCKET_ALLOWED_ORIGINS: ALLOWED_ORIGIN,
  WEBSOCKET_MAX_MESSAGE_BYTES: MAX_FRAME_BYTES,
  WEBSOCKET_RATE_LIMIT: 200,
  WEBSOCKET_RATE_BURST: 400,
  WEBSOCKET_RATE_ABUSE_LIMIT: 500,
  HTTP_MAX_BODY_BYTES: MAX_BODY_BYTES,
  // Sockets that stop answering pings are reaped within about 2.5 s; honest ones, which answer
  // at once, survive even a loaded machine's event-loop stalls.
  WEBSOCKET_PING_INTERVAL: 0.5,
  WEBSOCKET_PING_TIMEOUT: 2,
  // A hostile POST /notify that were wrongly accepted would wait this long, not 5 minutes.
  WEBSOCKET_CALLBACK_TIMEOUT: 2,
};

const WITH_KEY = { authorization: `Bearer ${API_KEY}` };
const JSON_WITH_KEY = { ...WITH_KEY, 'content-type': 'application/json' };
const FORM = 'application/x-www-form-urlencoded';

const HONEST = [
  { user: 'honest-ann', proceed: true, feedback: 'go ahead' },
  { user: 'honest-ben', proceed: false, feedback: 'stop, wrong file' },
  { user: 'honest-cat', proceed: true, feedback: null },
];

const tally = {
  frames: 0,
  errors: 0,
  closes: {} as Record<string, number>,
  upgradesRefused: 0,
  rest: 0,
  rest4xx: 0,
  crashes: 0,
};
const crashLog: string[] = [];

let t: TestApp;
let connections: ConnectionService;
const honest: Array<(typeof HONEST)[number] & { client: TestClient; callbackId: string; taskId: string }> = [];

// ---------------------------------------------------------------- helpers: identity

function token(sub: string, expiresAt: string | number = '1h', secret = SECRET): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(secret));
}

// ---------------------------------------------------------------- helpers: sockets

const hostiles = new Set<TestClient>();
const retired = new WeakSet<TestClient>();
const rawSockets = new Set<net.Socket>();

function countClose(code: number): void {
  tally.closes[code] = (tally.closes[code] ?? 0) + 1;
}

/** A connected attacker. Closes the server initiates are tallied by code. */
async function hostile(name: string): Promise<TestClient> {
  const client = await TestClient.open(`${t.wsUrl}/?token=${await token(`mallory-${name}`)}`);
  hostiles.add(client);
  void client.closed.then((code) => {
    if (!retired.has(client)) countClose(code);
  });
  await client.next('connected');
  return client;
}

function send(client: TestClient, data: unknown, binary = false): void {
  tally.frames++;
  const payload = typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data);
  client.socket.send(payload, { binary });
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** The `count` frames the client received after it had `seen` of them. */
async function framesAfter(client: TestClient, seen: number, count: number, timeoutMs = 3000): Promise<Frame[]> {
  await until(
    () => client.frames.length >= seen + count || client.closeCode !== null,
    timeoutMs,
    `${count} frames (got ${JSON.stringify(client.frames.slice(seen)).slice(0, 300)})`,
  );
  if (client.frames.length < seen + count) throw new Error(`closed with ${client.closeCode} before replying`);
  return client.frames.slice(seen, seen + count);
}

/** Sends one frame and resolves with the first frame the server sends back. */
async function exchange(client: TestClient, data: unknown, binary = false): Promise<Frame> {
  const seen = client.frames.length;
  send(client, data, binary);
  return (await framesAfter(client, seen, 1))[0];
}

async function expectAlive(client: TestClient): Promise<void> {
  expect((await exchange(client, { action: 'ping' })).type).toBe('pong');
}

/** The honest users' connections keep working while attackers misbehave next to them. */
async function expectHonestUnaffected(): Promise<void> {
  for (const h of honest) {
    expect((await h.client.request({ action: 'ping' }, 'pong')).type).toBe('pong');
  }
}

function retireAll(): void {
  for (const client of hostiles) {
    retired.add(client);
    tally.errors += client.ofType('error').length;
    client.terminate();
  }
  hostiles.clear();
  for (const socket of rawSockets) socket.destroy();
  rawSockets.clear();
}

// ---------------------------------------------------------------- helpers: raw TCP

interface RawSocket {
  socket: net.Socket;
  received(): Buffer;
  closed: Promise<void>;
}

function rawConnect(): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(t.baseUrl).port), '127.0.0.1');
    rawSockets.add(socket);
    let data = Buffer.alloc(0);
    socket.on('data', (chunk) => (data = Buffer.concat([data, chunk])));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

function upgradeRequest(path: string, headers: Record<string, string | undefined> = {}, method = 'GET'): string {
  const all: Record<string, string | undefined> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = Object.entries(all)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}: ${value}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

function statusOf(response: Buffer): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response.toString('latin1'))?.[1] ?? 0);
}

/** Sends a raw request and waits for the server's answer and its closing of the socket. */
async function rawUpgrade(request: string): Promise<{ status: number; closedByServer: boolean }> {
  const raw = await rawConnect();
  raw.socket.write(request);
  const closedByServer = await Promise.race([raw.closed.then(() => true), sleep(2000).then(() => false)]);
  const status = statusOf(raw.received());
  if (status !== 101) tally.upgradesRefused++;
  return { status, closedByServer };
}

/** A hand-driven WebSocket: upgraded, and from then on it does only what the test makes it do. */
async function rawWebSocket(user: string, read = true): Promise<RawSocket & { frames(): Buffer }> {
  const raw = await rawConnect();
  if (!read) raw.socket.pause();
  raw.socket.write(upgradeRequest(`/?token=${await token(user)}`));
  if (read) {
    await until(() => raw.received().includes('\r\n\r\n'), 2000, 'the 101 response');
    expect(statusOf(raw.received())).toBe(101);
  }
  const frames = () => raw.received().subarray(raw.received().indexOf('\r\n\r\n') + 4);
  return { ...raw, frames };
}

/** A client frame with an all-zero mask key, so the payload goes as is. */
function clientFrame(firstByte: number, payload: Buffer = Buffer.alloc(0), masked = true): Buffer {
  const length = payload.length < 126 ? [payload.length] : [126, payload.length >> 8, payload.length & 0xff];
  const header = Buffer.from([firstByte, (masked ? 0x80 : 0) | length[0], ...length.slice(1)]);
  return Buffer.concat([header, masked ? Buffer.alloc(4) : Buffer.alloc(0), payload]);
}

/** The code of the close frame among the server's (unmasked) frames, if one came. */
function closeCodeIn(data: Buffer): number | null {
  let offset = 0;
  while (offset + 2 <= data.length) {
    const opcode = data[offset] & 0x0f;
    let length = data[offset + 1] & 0x7f;
    let header = 2;
    if (length === 126) [length, header] = [data.readUInt16BE(offset + 2), 4];
    else if (length === 127) [length, header] = [Number(data.readBigUInt64BE(offset + 2)), 10];
    if (opcode === 0x8) return length >= 2 ? data.readUInt16BE(offset + header) : 1005;
    offset += header + length;
  }
  return null;
}

// ---------------------------------------------------------------- helpers: REST

interface Reply {
  status: number;
  body: any;
}

async function rest(
  method: string,
  path: string,
  body?: string | Uint8Array,
  headers: Record<string, string> = body === undefined ? WITH_KEY : JSON_WITH_KEY,
): Promise<Reply> {
  tally.rest++;
  const what = `${method} ${path.slice(0, 80)}`;
  try {
    const response = await fetch(t.baseUrl + path, { method, headers, body, signal: AbortSignal.timeout(5000) });
    const text = await response.text();
    if (response.status >= 400 && response.status < 500) tally.rest4xx++;
    if (response.status >= 500) crash(`${what} -> ${response.status} ${text.slice(0, 120)}`);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: response.status, body: parsed };
  } catch (err) {
    crash(`${what} -> ${(err as Error).message}`);
    return { status: 0, body: null };
  }
}

function crash(description: string): void {
  tally.crashes++;
  crashLog.push(description);
}

/** Null when the reply is a proper refusal: an allowed 4xx with a JSON `code` and `message`. */
function badRefusal(reply: Reply, allowed?: number[]): string | null {
  const statusOk = allowed ? allowed.includes(reply.status) : reply.status >= 400 && reply.status < 500;
  const shapeOk = typeof reply.body?.code === 'string' && typeof reply.body?.message === 'string';
  return statusOk && shapeOk ? null : `${reply.status} ${JSON.stringify(reply.body).slice(0, 160)}`;
}

/** Sets a (dotted) field of a deep copy of the body. */
function withField(body: object, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(body) as Record<string, any>;
  const keys = path.split('.');
  const leaf = keys.pop() as string;
  let target = copy;
  for (const key of keys) target = target[key];
  target[leaf] = value;
  return copy;
}

// ---------------------------------------------------------------- the storm, replayable

/** Every storm case, so the memory check can run an identical second round. */
const stormCases: Array<() => Promise<void>> = [];

function storm(name: string, run: () => Promise<void>, timeoutMs?: number): void {
  stormCases.push(run);
  it(name, run, timeoutMs);
}

async function replayStorm(): Promise<void> {
  for (const run of stormCases) {
    // Failures were reported by the first round; this round is about memory.
    await run().catch(() => undefined);
    retireAll();
  }
}

const gc = exposeGc();

/** `global.gc` is off by default; V8 can still hand one out, which keeps the heap reading steady. */
function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

/** The lowest heapUsed of a few readings, after a collection where one is available. */
async function settledHeapUsed(): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    gc?.();
    await sleep(20);
    readings.push(process.memoryUsage().heapUsed);
  }
  return Math.min(...readings);
}

// ================================================================ the suite

describe('hostile input storm (e2e)', () => {
  beforeAll(async () => {
    t = await startTestApp(ENV);
    connections = t.app.get(ConnectionService);
    for (const h of HONEST) {
      const client = await TestClient.open(`${t.wsUrl}/?token=${await token(h.user)}`);
      await client.next('connected');
      const taskId = `${h.user}-task`;
      const asked = await t.http('POST', '/notify?wait=false', notifyBody(h.user, taskId, { timeout_seconds: 600 }), WITH_KEY);
      expect(asked.status).toBe(202);
      const prompt = await client.next('task_step_result');
      expect(prompt.callback_id).toBe(asked.body.callback_id);
      honest.push({ ...h, client, callbackId: prompt.callback_id, taskId });
    }
  });

  afterEach(() => retireAll());

  afterAll(async () => {
    const closes = Object.entries(tally.closes)
      .map(([code, n]) => `${code}:${n}`)
      .join(',');
    report(
      `hostile-input: frames=${tally.frames} errors=${tally.errors} closes={${closes}} ` +
        `upgradesRefused=${tally.upgradesRefused} rest=${tally.rest} rest4xx=${tally.rest4xx} crashes=${tally.crashes}`,
    );
    for (const h of honest) h.client.terminate();
    await t?.close();
  });

  describe('socket frames', () => {
    const malformed: Array<[string, string | Buffer, boolean, string]> = [
      ['non-JSON', '{oops', false, 'invalid_json'],
      ['truncated JSON', '{"action":"ping"', false, 'invalid_json'],
      ['an empty frame', '', false, 'invalid_json'],
      ['whitespace only', ' \t\n ', false, 'invalid_json'],
      ['NUL characters', '\u0000\u0000', false, 'invalid_json'],
      ['a byte-order mark before the JSON', '\uFEFF{"action":"ping"}', false, 'invalid_json'],
      ['a binary frame', Buffer.from('{"action":"ping"}'), true, 'invalid_message'],
      ['an empty binary frame', Buffer.alloc(0), true, 'invalid_message'],
      ['a JSON array', '[{"action":"ping"}]', false, 'invalid_message'],
      ['a JSON number', '42', false, 'invalid_message'],
      ['a JSON string', '"ping"', false, 'invalid_message'],
      ['JSON null', 'null', false, 'invalid_message'],
      ['JSON true', 'true', false, 'invalid_message'],
      // 8192 levels take exactly the frame limit.
      ['8192 levels of [ ]', '['.repeat(MAX_FRAME_BYTES / 2) + ']'.repeat(MAX_FRAME_BYTES / 2), false, 'invalid_message'],
      ['16384 unclosed [', '['.repeat(MAX_FRAME_BYTES), false, 'invalid_json'],
      ['2700 levels of {"a": under an unknown action', `{"action":"dig",${'"a":{'.repeat(2700)}${'}'.repeat(2700)}}`, false, 'unknown_action'],
    ];

    for (const [name, data, binary, code] of malformed) {
      storm(`answers ${name} with ${code} and keeps the connection`, async () => {
        const client = await hostile('malformed');
        const reply = await exchange(client, data, binary);
        expect(reply).toMatchObject({ type: 'error', code });
        expect(typeof reply.message).toBe('string');
        await expectAlive(client);
      });
    }

    storm('refuses a ping nested 2700 levels deep (past the 32-level limit) and keeps the connection', async () => {
      const client = await hostile('deep-ping');
      const frame = `{"action":"ping","a":${'{"a":'.repeat(2700)}1${'}'.repeat(2700)}}`;
      const reply = await exchange(client, frame);
      expect(reply).toMatchObject({ type: 'error', code: 'invalid_message', action: 'ping' });
      await expectAlive(client);
    });

    storm('refuses deeply nested values inside validated frames without an internal error', async () => {
      const client = await hostile('deep-validated');
      const nested = '['.repeat(7000) + ']'.repeat(7000);
      const frames = [
        `{"action":"confirm","callback_id":"no-such-callback","junk":${nested}}`,
        `{"action":"confirm","callback_id":"no-such-callback","proceed":${nested}}`,
        `{"action":"cancel","task_id":${nested}}`,
        `{"action":"subscribe","task_id":"t","extra":${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}}`,
      ];
      const codes: string[] = [];
      for (const frame of frames) codes.push((await exchange(client, frame)).code);
      expect(codes).not.toContain('internal_error');
      await expectAlive(client);
    });

    storm('takes a frame of exactly the size limit and closes one byte over it with 1009', async () => {
      const client = await hostile('size');
      const envelope = JSON.stringify({ action: 'ping', pad: '' });
      const atLimit = JSON.stringify({ action: 'ping', pad: 'x'.repeat(MAX_FRAME_BYTES - envelope.length) });
      expect(Buffer.byteLength(atLimit)).toBe(MAX_FRAME_BYTES);
      expect((await exchange(client, atLimit)).type).toBe('pong');
      send(client, JSON.stringify({ action: 'ping', pad: 'x'.repeat(MAX_FRAME_BYTES + 1 - envelope.length) }));
      expect(await client.closed).toBe(1009);
      await expectHonestUnaffected();
    });

    const overLimit: Array<[string, string]> = [
      // The limit is in bytes: 9000 two-byte characters are under it in characters only.
      ['multi-byte text over the limit in bytes', JSON.stringify({ action: 'ping', pad: 'é'.repeat(9000) })],
      ['10k levels of [ ] (over the limit)', '['.repeat(10_000) + ']'.repeat(10_000)],
      ['a 64 KB feedback', JSON.stringify({ action: 'confirm', callback_id: 'x', feedback: 'f'.repeat(65536) })],
    ];
    for (const [name, frame] of overLimit) {
      storm(`closes ${name} with 1009`, async () => {
        const client = await hostile('over-limit');
        send(client, frame);
        expect(await client.closed).toBe(1009);
      });
    }

    storm('refuses over-long strings within the frame limit', async () => {
      const client = await hostile('long-strings');
      const feedback = await exchange(client, { action: 'confirm', callback_id: 'x', feedback: 'f'.repeat(4097) });
      expect(feedback).toMatchObject({ type: 'error', code: 'invalid_message' });
      expect(feedback.message).toContain('feedback');
      const action = await exchange(client, { action: 'a'.repeat(10_000) });
      expect(action).toMatchObject({ type: 'error', code: 'unknown_action' });
      expect(action.message.length).toBeLessThan(200); // the action is not echoed in full
    });

    // @IsOptional lets null through to the handler; there it must still end in a refusal.
    const REFUSALS = ['invalid_message', 'forbidden', 'callback_not_found'];
    const WRONG = SOCKET_WRONG;
    const FIELDS = SOCKET_FIELDS;

    for (const [action, field, kind, optional, base] of FIELDS) {
      storm(`refuses ${action}.${field} of every wrong type`, async () => {
        const client = await hostile('types');
        const wrong: string[] = [];
        for (const value of WRONG[kind]) {
          const reply = await exchange(client, { action, ...base, [field]: value });
          const refused =
            value === null && optional
              ? reply.type === 'error' && REFUSALS.includes(reply.code)
              : reply.type === 'error' && reply.code === 'invalid_message' && String(reply.message).includes(field);
          if (!refused) wrong.push(`${JSON.stringify(value).slice(0, 20)} -> ${JSON.stringify(reply).slice(0, 160)}`);
        }
        expect(wrong).toEqual([]);
        await expectAlive(client);
      });
    }

    for (const [name, frame, expected] of PROTOTYPE_FRAMES) {
      storm(`handles ${name} without pollution`, async () => {
        const client = await hostile('proto');
        expect(await exchange(client, frame)).toMatchObject(expected);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty('action');
        expect(Object.prototype).not.toHaveProperty('task_id');
      });
    }

    storm('answers unknown actions of every shape with unknown_action', async () => {
      const client = await hostile('unknown');
      const actions: unknown[] = ['explode', '', 'CONFIRM', ' confirm', 'confirm\u0000', 'ping ', 1, 0, false, null, [], { action: 'ping' }];
      const codes: string[] = [];
      for (const action of actions) codes.push((await exchange(client, { action })).code);
      codes.push((await exchange(client, { callback_id: 'x' })).code); // no action at all
      expect(codes).toEqual(Array(actions.length + 1).fill('unknown_action'));
    });

    storm("refuses to touch other users' confirmations and tasks", async () => {
      const client = await hostile('intruder');
      const codes: string[] = [];
      for (const h of honest) {
        codes.push((await exchange(client, { action: 'confirm', callback_id: h.callbackId, proceed: true })).code);
        codes.push((await exchange(client, { action: 'cancel', task_id: h.taskId })).code);
        codes.push((await exchange(client, { action: 'cancel', task_id: h.taskId, user_id: h.user })).code);
        codes.push((await exchange(client, { action: 'subscribe', task_id: h.taskId })).code);
        codes.push((await exchange(client, { action: 'subscribe', user_id: h.user })).code);
      }
      expect(codes).toEqual(Array(codes.length).fill('forbidden'));
      for (const h of honest) {
        const state = await t.http('GET', `/confirmations/${h.callbackId}`, undefined, WITH_KEY);
        expect(state.body).toMatchObject({ state: 'pending', user_id: h.user });
        expect((await t.http('GET', `/tasks/${h.taskId}`, undefined, WITH_KEY)).body.cancelled).toBe(false);
      }
    });

    storm('answers duplicate confirms with already_resolved and unknown ones with callback_not_found', async () => {
      const client = await hostile('dup');
      const asked = await t.http('POST', '/notify?wait=false', notifyBody('mallory-dup', 'dup-task'), WITH_KEY);
      await client.next('task_step_result');
      const seen = client.frames.length;
      for (let i = 0; i < 20; i++) send(client, { action: 'confirm', callback_id: asked.body.callback_id, proceed: i % 2 === 0 });
      const replies = await framesAfter(client, seen, 20);
      expect(replies.filter((f) => f.type === 'confirmation_accepted')).toHaveLength(1);
      expect(replies.filter((f) => f.code === 'already_resolved')).toHaveLength(19);
      const state = await t.http('GET', `/confirmations/${asked.body.callback_id}`, undefined, WITH_KEY);
      expect(state.body).toMatchObject({ state: 'confirmed', proceed: true });
      for (const unknown of ['no-such-callback', '../../status', '💥', ' '.repeat(3)]) {
        expect((await exchange(client, { action: 'confirm', callback_id: unknown })).code).toBe('callback_not_found');
      }
    });

    storm('answers a confirm that arrives after the timeout with already_resolved', async () => {
      const client = await hostile('late');
      const asked = await t.http('POST', '/notify?wait=false', notifyBody('mallory-late', 'late-task', { timeout_seconds: 0.05 }), WITH_KEY);
      expect(await client.next('confirmation_resolved')).toMatchObject({ callback_id: asked.body.callback_id, state: 'timed_out' });
      const late = await exchange(client, { action: 'confirm', callback_id: asked.body.callback_id, proceed: false });
      expect(late).toMatchObject({ type: 'error', code: 'already_resolved' });
    });

    storm('rate-limits a burst at once and its sender is unaffected', async () => {
      const client = await hostile('burst');
      for (let i = 0; i < 1000; i++) send(client, { action: 'ping' });
      await until(() => client.ofType('error').length > 0, 3000, 'a rate_limited error');
      expect(new Set(client.ofType('error').map((e) => e.code))).toEqual(new Set(['rate_limited']));
      await sleep(50);
      expect(client.ofType('pong').length).toBeLessThan(1000);
      await expectHonestUnaffected();
    });

    storm('closes a sustained flood with 1008 after rate_limited', async () => {
      const client = await hostile('flood');
      const deadline = Date.now() + 2000;
      while (client.closeCode === null && Date.now() < deadline) {
        for (let i = 0; i < 50; i++) send(client, { action: 'ping' });
        await sleep(10);
      }
      expect(client.ofType('error').map((e) => e.code)).toContain('rate_limited');
      await expectHonestUnaffected();
      expect(client.closeCode).toBe(1008);
    });

    const invalidUtf8: Array<[string, number[]]> = [
      ['a lone 0xFF byte', [0xff]],
      ['an overlong "/"', [0xc0, 0xaf]],
      ['an encoded surrogate', [0xed, 0xa0, 0x80]],
      ['a truncated sequence', [0xe2, 0x82]],
      ['0xFE inside JSON', [...Buffer.from('{"action":"ping","x":"'), 0xfe, ...Buffer.from('"}')]],
    ];
    for (const [name, bytes] of invalidUtf8) {
      storm(`closes a text frame with ${name} with 1007`, async () => {
        const client = await hostile('utf8');
        send(client, Buffer.from(bytes), false);
        expect(await client.closed).toBe(1007);
      });
    }

    const brokenFraming: Array<[string, Buffer, number]> = [
      ['an unmasked client frame', clientFrame(0x81, Buffer.from('{}'), false), 1002],
      ['a reserved opcode', clientFrame(0x83), 1002],
      ['RSV1 without an extension', clientFrame(0xc1, Buffer.from('{}')), 1002],
      ['a control frame over 125 bytes', clientFrame(0x89, Buffer.alloc(126)), 1002],
      ['a fragmented control frame', clientFrame(0x09), 1002],
      ['a continuation of nothing', clientFrame(0x80, Buffer.from('{}')), 1002],
      ['a 64-bit length of 2^63-1', Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), 1009],
    ];
    for (const [name, bytes, code] of brokenFraming) {
      storm(`closes ${name} with ${code}`, async () => {
        const raw = await rawWebSocket('mallory-framing');
        tally.frames++;
        raw.socket.write(bytes);
        await until(() => closeCodeIn(raw.frames()) !== null, 2000, 'a close frame');
        const received = closeCodeIn(raw.frames()) as number;
        countClose(received);
        expect(received).toBe(code);
      });
    }
  });

  describe('upgrade requests', () => {
    const badUpgrades: Array<[string, () => Promise<string>, number]> = [
      ['no Sec-WebSocket-Key', async () => upgradeRequest(`/?token=${await token('mallory-up')}`, { 'Sec-WebSocket-Key': undefined }), 400],
      ['a malformed Sec-WebSocket-Key', async () => upgradeRequest(`/?token=${await token('mallory-up')}`, { 'Sec-WebSocket-Key': 'short' }), 400],
      ['Sec-WebSocket-Version 12', async () => upgradeRequest(`/?token=${await token('mallory-up')}`, { 'Sec-WebSocket-Version': '12' }), 400],
      ['no Sec-WebSocket-Version', async () => upgradeRequest(`/?token=${await token('mallory-up')}`, { 'Sec-WebSocket-Version': undefined }), 400],
      ['a malformed Sec-WebSocket-Protocol', async () => upgradeRequest(`/?token=${await token('mallory-up')}`, { 'Sec-WebSocket-Protocol': 'a,,b' }), 400],
      ['Upgrade: h2c', async () => upgradeRequest(`/?token=${await token('mallory-up')}`, { Upgrade: 'h2c' }), 400],
      ['POST', async () => upgradeRequest(`/?token=${await token('mallory-up')}`, { 'Content-Length': '0' }, 'POST'), 405],
      ['no token', async () => upgradeRequest('/'), 401],
      ['a garbage token', async () => upgradeRequest('/?token=not.a.jwt'), 401],
      ['a token signed with another secret', async () => upgradeRequest(`/?token=${await token('mallory-up', '1h', 'x'.repeat(40))}`), 401],
      ['an expired token', async () => upgradeRequest(`/?token=${await token('mallory-up', Math.floor(Date.now() / 1000) - 60)}`), 401],
      ['an alg=none token', async () => upgradeRequest(`/?token=${unsignedToken('mallory-up')}`), 401],
      ['a bearer header with a bad token', async () => upgradeRequest('/', { Authorization: 'Bearer nope' }), 401],
      ['a wrong path', async () => upgradeRequest(`/socket?token=${await token('mallory-up')}`), 404],
      ['a traversal path', async () => upgradeRequest(`/ws/../../admin?token=${await token('mallory-up')}`), 404],
      ['a foreign origin', async () => upgradeRequest(`/?token=${await token('mallory-up')}`, { Origin: 'https://evil.example' }), 403],
      ['a lookalike origin', async () => upgradeRequest(`/?token=${await token('mallory-up')}`, { Origin: `${ALLOWED_ORIGIN}.evil.example` }), 403],
      ['a request line that is not HTTP', async () => 'HELLO\r\n\r\n', 400],
    ];

    for (const [name, request, status] of badUpgrades) {
      storm(`refuses an upgrade with ${name} (${status}) and opens no socket`, async () => {
        const registeredBefore = connections.stats().total;
        const refusal = await rawUpgrade(await request());
        expect(refusal).toEqual({ status, closedByServer: true });
        expect(connections.stats().total).toBe(registeredBefore);
      });
    }

    storm('opens no socket for half-open TCP: silence, or an upgrade request cut off mid-headers', async () => {
      const registeredBefore = connections.stats().total;
      const silent = await rawConnect();
      const partial = await rawConnect();
      partial.socket.write(`GET /?token=${await token('mallory-partial')} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n`);
      tally.frames++;
      await sleep(300);
      expect(connections.stats().total).toBe(registeredBefore);
      expect((await t.http('GET', '/health/live')).status).toBe(200);
      await expectHonestUnaffected();
      silent.socket.destroy();
      partial.socket.destroy();
    });

    storm('reaps upgraded sockets that stop answering, whether or not they read', async () => {
      const reapedBefore = connections.stats().reaped;
      const countBefore = connections.count;
      const mute = await rawWebSocket('mallory-mute');
      const deaf = await rawWebSocket('mallory-deaf', false);
      await until(() => connections.count === countBefore + 2, 2000, 'both sockets to register');
      await until(() => connections.stats().reaped >= reapedBefore + 2, 6000, 'both sockets to be reaped');
      await mute.closed; // the server cut the TCP connection, not just its bookkeeping
      countClose(1006);
      countClose(1006);
      expect(connections.count).toBe(countBefore);
      deaf.socket.destroy();
    });
  });

  describe('REST', () => {
    const WRONG = REST_WRONG;

    const BODY_ROUTES: Array<[string, string, object]> = [
      ['POST', '/notify', notifyValid],
      ['POST', '/notify?wait=false', notifyValid],
      ['POST', '/broadcast', { type: 'storm' }],
      ['POST', '/users/victim/messages', { type: 'storm' }],
      ['POST', '/tasks/victim-task/messages', { type: 'storm' }],
      ['POST', '/tasks/victim-task/subscribers', grantValid],
      ['POST', '/heartbeats', heartbeatValid],
    ];
    const ROUTES: Array<[string, string, object?]> = [
      ...BODY_ROUTES,
      ['GET', '/confirmations/no-such-callback?wait_seconds=1'],
      ['DELETE', '/tasks/victim-task/subscribers/victim'],
      ['DELETE', '/heartbeats/no-such-heartbeat'],
      ['GET', '/tasks/victim-task'],
      ['GET', '/status'],
      ['GET', '/metrics'],
    ];

    storm('refuses every route without a valid API key (401)', async () => {
      const badKeys: Array<Record<string, string>> = [
        {},
        { authorization: 'Bearer wrong-key' },
        { authorization: `bearer ${API_KEY}` },
        { authorization: API_KEY },
        { authorization: `Basic ${Buffer.from(`${API_KEY}:`).toString('base64')}` },
        { authorization: `Bearer ${API_KEY.slice(0, -1)}` },
        { authorization: `Bearer ${API_KEY}x` },
        { authorization: `Bearer ${'k'.repeat(5000)}` },
      ];
      const wrong: string[] = [];
      for (const [method, path, body] of ROUTES) {
        for (const key of badKeys) {
          const headers = body ? { ...key, 'content-type': 'application/json' } : key;
          const reply = await rest(method, path, body && JSON.stringify(body), headers);
          const problem = badRefusal(reply, [401]) ?? (reply.body.code === 'unauthorized' ? null : reply.body.code);
          if (problem) wrong.push(`${method} ${path} ${JSON.stringify(key).slice(0, 40)}: ${problem}`);
        }
      }
      expect(wrong).toEqual([]);
    });

    const oversized = JSON.stringify({ type: 'storm', user_id: 'victim', pad: 'p'.repeat(MAX_BODY_BYTES * 2) });
    const badBodies: Array<[string, string | Uint8Array, string | undefined, number[]]> = [
      ['non-JSON', '{oops', 'application/json', [400]],
      ['truncated JSON', '{"user_id":"victim",', 'application/json', [400]],
      ['an empty body', '', 'application/json', [400]],
      ['JSON null', 'null', 'application/json', [400]],
      ['an empty array', '[]', 'application/json', [400]],
      ['an array of objects', JSON.stringify([notifyValid, grantValid]), 'application/json', [400]],
      ['a number', '42', 'application/json', [400]],
      ['a string', '"storm"', 'application/json', [400]],
      ['true', 'true', 'application/json', [400]],
      ['a __proto__ key', '{"__proto__":{"polluted":true},"type":"storm","user_id":"victim"}', 'application/json', [400]],
      ['a nested __proto__ key', '{"type":"storm","step_result":{"__proto__":{"polluted":true}}}', 'application/json', [400]],
      ['constructor.prototype', '{"constructor":{"prototype":{"polluted":true}},"type":"storm"}', 'application/json', [400]],
      ['JSON sent as text/plain', JSON.stringify({ type: 'storm' }), 'text/plain', [400, 415]],
      ['JSON sent as XML', '<storm/>', 'application/xml', [415]],
      ['JSON sent as multipart', '--x\r\n\r\n{}\r\n--x--', 'multipart/form-data; boundary=x', [415]],
      ['a form body', 'type=storm&user_id=victim', FORM, [400, 415]],
      ['no content-type', new TextEncoder().encode(JSON.stringify({ type: 'storm' })), undefined, [400, 415]],
      ['an oversized JSON body', oversized, 'application/json', [413]],
      ['an oversized JSON body with a charset', oversized, 'application/json; charset=utf-8', [413]],
      ['an oversized text/plain body', oversized, 'text/plain', [413, 415]],
      ['an oversized form body', `type=storm&pad=${'p'.repeat(MAX_BODY_BYTES * 2)}`, FORM, [413, 415]],
    ];

    for (const [name, body, contentType, allowed] of badBodies) {
      storm(`refuses ${name} on every body route (${allowed.join('/')})`, async () => {
        const wrong: string[] = [];
        for (const [method, path] of BODY_ROUTES) {
          const headers = contentType ? { ...WITH_KEY, 'content-type': contentType } : WITH_KEY;
          const problem = badRefusal(await rest(method, path, body, headers), allowed);
          if (problem) wrong.push(`${method} ${path}: ${problem}`);
        }
        expect(wrong).toEqual([]);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      });
    }

    storm('refuses deeply nested bodies with 400, not 500', async () => {
      const nested = '['.repeat(4000) + ']'.repeat(4000);
      const wrong: string[] = [];
      for (const [method, path] of BODY_ROUTES) {
        const dto = path.startsWith('/notify') || path.endsWith('/subscribers') || path === '/heartbeats';
        const body = dto ? `{"user_id":5,"junk":${nested}}` : nested;
        const problem = badRefusal(await rest(method, path, body), [400]);
        if (problem) wrong.push(`${method} ${path}: ${problem}`);
      }
      expect(wrong).toEqual([]);
    });


    for (const [path, valid, field, kind, extra = []] of DTO_FIELDS) {
      storm(`refuses POST ${path} with ${field} of every wrong type (400 naming it)`, async () => {
        // Null in an optional field is checked on its own below.
        const values = [...WRONG[kind], ...extra].filter((v) => !(v === null && OPTIONAL.has(field)));
        const wrong: string[] = [];
        for (const value of values) {
          const reply = await rest('POST', path, JSON.stringify(withField(valid, field, value)));
          const problem = badRefusal(reply, [400]) ?? (String(reply.body.message).includes(field) ? null : reply.body.message);
          if (problem) wrong.push(`${JSON.stringify(value).slice(0, 20)}: ${problem}`);
        }
        expect(wrong).toEqual([]);
      });
    }

    storm('refuses null in an optional number (PROTOCOL 8.1): 400 naming the field, never zero or the default', async () => {
      const cases: Array<[string, object, string]> = [
        ['/notify?wait=false', notifyValid, 'timeout_seconds'],
        ['/tasks/victim-task/subscribers', grantValid, 'ttl_seconds'],
        ['/heartbeats', heartbeatValid, 'duration_seconds'],
      ];
      const wrong: string[] = [];
      for (const [path, valid, field] of cases) {
        const reply = await rest('POST', path, JSON.stringify(withField(valid, field, null)));
        const problem = badRefusal(reply, [400]) ?? (reply.body.code === 'invalid_message' && String(reply.body.message).includes(field) ? null : reply.body.message);
        if (problem) wrong.push(`${path} ${field}=null: ${problem}`);
      }
      expect(wrong).toEqual([]);
    });

    storm('refuses odd path parameters on every route with one, without misrouting', async () => {
      const oddValues = [
        'a%2Fb',
        '..%2F..%2Fstatus',
        '%2e%2e',
        '%F0%9F%92%A5',
        '%00',
        '%E0%A4%A',
        '%',
        'a%3Fb%23c',
        '%25%32%46',
        '__proto__',
        'constructor',
        'hasOwnProperty',
        'x'.repeat(5000),
        '%F0%9F%92%A5'.repeat(420),
      ];
      const paramRoutes: Array<[string, (v: string) => string, string?]> = [
        ['GET', (v) => `/confirmations/${v}?wait_seconds=0`],
        ['GET', (v) => `/tasks/${v}`],
        ['DELETE', (v) => `/heartbeats/${v}`],
        ['DELETE', (v) => `/tasks/${v}/subscribers/victim`],
        ['DELETE', (v) => `/tasks/victim-task/subscribers/${v}`],
        ['POST', (v) => `/users/${v}/messages`, '[]'],
        ['POST', (v) => `/tasks/${v}/messages`, '[]'],
        ['POST', (v) => `/tasks/${v}/subscribers`, '{}'],
      ];
      const wrong: string[] = [];
      for (const [method, route, body] of paramRoutes) {
        for (const value of oddValues) {
          const problem = badRefusal(await rest(method, route(value), body));
          if (problem) wrong.push(`${method} ${route(value).slice(0, 60)}: ${problem}`);
        }
      }
      expect(wrong).toEqual([]);
    });

    storm('refuses hostile query strings', async () => {
      const waitSeconds = ['-1', '301', 'abc', 'NaN', 'Infinity', '-Infinity', '1e400', '1&wait_seconds=2', '%00', 'x'.repeat(5000)];
      const notifyWaits = ['maybe', 'FALSE', '0', '', 'false&wait=true', 'x'.repeat(5000)];
      const wrong: string[] = [];
      for (const value of waitSeconds) {
        const reply = await rest('GET', `/confirmations/no-such-callback?wait_seconds=${value}`);
        if (badRefusal(reply)) wrong.push(`wait_seconds=${value.slice(0, 20)}: ${badRefusal(reply)}`);
      }
      for (const value of notifyWaits) {
        const reply = await rest('POST', `/notify?wait=${value}`, JSON.stringify(notifyValid));
        if (badRefusal(reply, [400])) wrong.push(`wait=${value.slice(0, 20)}: ${badRefusal(reply, [400])}`);
      }
      expect(wrong).toEqual([]);
    });

    storm('answers unknown methods and routes with 404 JSON', async () => {
      const calls: Array<[string, string]> = [
        ['PUT', '/notify'],
        ['PATCH', '/broadcast'],
        ['GET', '/notify'],
        ['DELETE', '/status'],
        ['POST', '/metrics'],
        ['GET', '/admin'],
        ['GET', '/heartbeats/x/y/z'],
        ['OPTIONS', '/notify'],
      ];
      const wrong: string[] = [];
      for (const [method, path] of calls) {
        const problem = badRefusal(await rest(method, path, method === 'GET' || method === 'OPTIONS' ? undefined : '{}'), [404]);
        if (problem) wrong.push(`${method} ${path}: ${problem}`);
      }
      expect(wrong).toEqual([]);
    });
  });

  describe('after the storm', () => {
    it(
      'does not keep the storm in memory: a second identical round grows the heap by under 20 MB',
      async () => {
        const afterFirstRound = await settledHeapUsed();
        await replayStorm();
        const afterSecondRound = await settledHeapUsed();
        expect((afterSecondRound - afterFirstRound) / MB).toBeLessThan(20);
        expect(connections.count).toBe(honest.length);
      },
      60_000,
    );

    it('is alive', async () => {
      expect((await t.http('GET', '/health/live')).status).toBe(200);
      expect((await t.http('GET', '/health')).status).toBe(200);
    });

    it('still has every honest connection open, untouched by the storm', () => {
      for (const h of honest) {
        expect(h.client.closeCode).toBeNull();
        expect(h.client.ofType('error')).toEqual([]);
        expect(h.client.ofType('task_cancelled')).toEqual([]);
        expect(h.client.ofType('confirmation_resolved')).toEqual([]);
      }
    });

    it("resolves each honest user's confirmation with their own decision", async () => {
      for (const h of honest) {
        const accepted = await h.client.request(
          { action: 'confirm', callback_id: h.callbackId, proceed: h.proceed, feedback: h.feedback },
          'confirmation_accepted',
        );
        expect(accepted).toMatchObject({ callback_id: h.callbackId, proceed: h.proceed, feedback: h.feedback });
        const state = await t.http('GET', `/confirmations/${h.callbackId}`, undefined, WITH_KEY);
        expect(state.status).toBe(200);
        expect(state.body).toMatchObject({
          callback_id: h.callbackId,
          user_id: h.user,
          task_id: h.taskId,
          state: h.proceed ? 'confirmed' : 'rejected',
          proceed: h.proceed,
          feedback: h.feedback,
        });
      }
    });

    it(
      'crashed nothing: no 5xx and no unreachable server',
      async () => {
        // Run on its own (-t), no storm came before it: it storms first, so it can never pass
        // on traffic that was not sent.
        if (tally.rest === 0 || tally.frames === 0) await replayStorm();
        expect(tally.rest).toBeGreaterThan(200);
        expect(tally.frames).toBeGreaterThan(200);
        expect(crashLog).toEqual([]);
        expect(tally.crashes).toBe(0);
      },
      60_000,
    );
  });
});

function unsignedToken(sub: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub })}.`;
}
