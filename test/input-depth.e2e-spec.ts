import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { BuiltService, startBuiltService } from './support/built-service.js';
import { request } from './support/test-app.js';
import { TestClient } from './support/test-client.js';

/**
 * The nesting limit (PROTOCOL §8.1: 32 levels) on every input path, typed or not, against
 * the built service as production runs it. Bodies taken as plain objects (/broadcast, the
 * message routes) and frames taken as plain objects (ping) used to skip it: a body 100,000
 * deep answered 500 and a ping 5,000 deep `internal_error`, each with an error-level stack
 * trace. Too deep is the client's mistake: 400 / `invalid_message`, logged below error level.
 */

const JWT_SECRET = 'input-depth-secret-that-is-at-least-32-chars';
const API_KEY = 'input-depth-api-key';
const AUTH = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
const TOO_DEEP = { statusCode: 400, code: 'invalid_message', message: 'Input nests deeper than 32 levels' };

const objects = (levels: number, leaf = '1') => '{"a":'.repeat(levels) + leaf + '}'.repeat(levels);
const arrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

const ROUTES = ['/broadcast', '/users/alice/messages', '/tasks/task-1/messages', '/notify', '/tasks/task-1/subscribers', '/heartbeats'];

let service: BuiltService;
let alice: TestClient;

beforeAll(async () => {
  service = await startBuiltService({
    NODE_ENV: 'production',
    AUTH_MODE: 'jwt',
    JWT_SECRET,
    API_KEYS: API_KEY,
    HTTP_MAX_BODY_BYTES: String(8 * 1024 * 1024),
    WEBSOCKET_MAX_MESSAGE_BYTES: String(1024 * 1024),
  });
  const token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET));
  alice = await TestClient.open(`${service.wsUrl}/?token=${token}`);
  await alice.next('connected');
}, 60_000);

afterAll(async () => {
  alice?.terminate();
  await service?.stop();
});

const post = (path: string, body: string) => request(service.baseUrl, 'POST', path, body, AUTH);

describe('nesting limit on REST bodies (e2e, built service)', () => {
  it.each(ROUTES)('answers 400 invalid_message to a body 100,000 objects deep on %s', async (path) => {
    const res = await post(path, objects(100_000));
    expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: TOO_DEEP });
  });

  it.each(ROUTES)('answers 400 invalid_message to arrays 100,000 deep in a field on %s', async (path) => {
    const res = await post(path, `{"type":"x","user_id":"alice","payload":${arrays(100_000)}}`);
    expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: TOO_DEEP });
  });

  it('draws the line at 32 levels on a plain-object body', async () => {
    expect((await post('/broadcast', objects(32))).status).toBe(200);
    expect((await post('/broadcast', objects(33))).body).toEqual(TOO_DEEP);
  });

  it('answers 400 to a body 2,000,000 levels deep, however the parser takes it', async () => {
    const res = await post('/broadcast', `{"x":${arrays(2_000_000)}}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_message');
  });
});

describe('nesting limit on socket frames (e2e, built service)', () => {
  const FRAMES: Array<[string, string]> = [
    ['ping', `{"action":"ping","data":${arrays(5000)}}`],
    ['ping', `{"action":"ping","data":${objects(5000)}}`],
    ['confirm', `{"action":"confirm","callback_id":"cb","junk":${arrays(5000)}}`],
    ['cancel', `{"action":"cancel","task_id":"t","junk":${arrays(5000)}}`],
    ['subscribe', `{"action":"subscribe","task_id":"t","junk":${arrays(5000)}}`],
    ['unsubscribe', `{"action":"unsubscribe","task_id":"t","junk":${arrays(5000)}}`],
    ['resume', `{"action":"resume","epoch":"e","offset":0,"junk":${arrays(5000)}}`],
    ['ack', `{"action":"ack","message_id":"m","junk":${arrays(5000)}}`],
  ];

  it.each(FRAMES)('answers a %s frame nested 5,000 deep with invalid_message, and the socket goes on', async (action, frame) => {
    alice.send(frame);
    const error = await alice.next('error');
    expect(error).toMatchObject({ code: 'invalid_message', message: TOO_DEEP.message, action });
    expect((await alice.request({ action: 'ping', n: 1 }, 'pong')).original_data).toEqual({ action: 'ping', n: 1 });
  });

  it('still echoes a ping at the limit', async () => {
    const pong = await alice.request(`{"action":"ping","data":${objects(31)}}`, 'pong');
    expect(pong.original_data.data).toEqual(JSON.parse(objects(31)));
  });
});

describe('after deep input (e2e, built service)', () => {
  it('logged none of it at error level, and no 5xx', async () => {
    // Let the last lines reach stdout.
    await request(service.baseUrl, 'GET', '/health/live');
    const lines = service
      .stdout()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { level: string; msg: string; res?: { statusCode: number } });
    expect(lines.filter((line) => line.level === 'error' || line.level === 'fatal').map((line) => line.msg.slice(0, 200))).toEqual([]);
    expect(lines.filter((line) => (line.res?.statusCode ?? 0) >= 500)).toEqual([]);
    expect(lines.some((line) => line.res?.statusCode === 400)).toBe(true);
  });
});
