import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { createServer, Server } from 'node:http';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { validateEnvironment } from '../src/config/environment.js';
import { TestClient } from './support/test-client.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

function hs256(claims: { sub?: string; aud?: string; iss?: string }, expiresIn: string | number = '1h', notBefore?: number) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresIn);
  if (notBefore !== undefined) jwt = jwt.setNotBefore(notBefore);
  return jwt.sign(new TextEncoder().encode(SECRET));
}

/** Resolves to the HTTP status of a refused upgrade, or 101 when it was accepted. */
function upgradeStatus(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}, protocols?: string[]): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, protocols, options);
    socket.on('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    socket.on('error', () => resolve(-1));
  });
}

describe('configuration safety', () => {
  it('refuses production without token auth and API keys, naming the variables', () => {
    expect(() => validateEnvironment({ NODE_ENV: 'production' })).toThrow(/AUTH_MODE: none[\s\S]*API_KEYS: production needs/);
    expect(() => validateEnvironment({ NODE_ENV: 'production', AUTH_MODE: 'jwt', API_KEYS: 'k' })).toThrow(/JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL/);
    expect(() =>
      validateEnvironment({ NODE_ENV: 'production', AUTH_MODE: 'jwt', JWT_SECRET: SECRET, API_KEYS: 'k' }),
    ).not.toThrow();
    expect(() =>
      validateEnvironment({ NODE_ENV: 'production', ALLOW_INSECURE_AUTH_NONE: 'true', API_KEYS: 'k' }),
    ).not.toThrow();
  });

  it('never prints secrets in its errors', () => {
    const refusal = (env: Record<string, string>): string => {
      try {
        validateEnvironment(env);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`${Object.keys(env).join(', ')} was accepted`);
    };
    const tooShort = refusal({ JWT_SECRET: 'short-secret-7q' });
    expect(tooShort).toMatch(/JWT_SECRET=\(hidden\): /);
    expect(tooShort).not.toContain('short-secret-7q');
    const badUrl = refusal({ REDIS_URL: 'redis://:pw-9x4@cache.internal:6379/notadb' });
    expect(badUrl).toMatch(/REDIS_URL=\(hidden\): /);
    expect(badUrl).not.toContain('pw-9x4');
    expect(badUrl).not.toContain('cache.internal');
    // Another variable's mistake lists every problem, and still no secret beside it.
    const beside = refusal({ JWT_SECRET: 'k3y', API_KEYS: 'api-key-5z', JWT_PUBLIC_KEY: 'pem-8w', WEBSOCKET_PORT: '70000' });
    expect(beside).toMatch(/WEBSOCKET_PORT=/);
    for (const secret of ['k3y', 'api-key-5z', 'pem-8w']) expect(beside).not.toContain(secret);
  });
});

describe('JWT authentication of sockets (HS256)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, JWT_AUDIENCE: 'gateway', JWT_ISSUER: 'auth.example' });
  });
  afterAll(() => t.close());

  const good = () => hs256({ sub: 'alice', aud: 'gateway', iss: 'auth.example' });

  it('takes the user from the token in the query, a Bearer header, or a subprotocol', async () => {
    const viaQuery = await TestClient.open(`${t.wsUrl}/?token=${await good()}`);
    expect((await viaQuery.next('connected')).user_id).toBe('alice');
    const viaHeader = await TestClient.open(`${t.wsUrl}/ws`, { headers: { authorization: `Bearer ${await good()}` } });
    expect((await viaHeader.next('connected')).user_id).toBe('alice');
    const viaProtocol = new WebSocket(`${t.wsUrl}/`, ['gateway.v1', `bearer.${await good()}`]);
    await new Promise((resolve) => viaProtocol.once('open', resolve));
    expect(viaProtocol.protocol).toBe('gateway.v1');
    for (const c of [viaQuery, viaHeader]) c.terminate();
    viaProtocol.terminate();
  });

  it('ignores ?user_id= in token mode', async () => {
    const client = await TestClient.open(`${t.wsUrl}/?user_id=mallory&token=${await good()}`);
    expect((await client.next('connected')).user_id).toBe('alice');
    client.terminate();
  });

  it.each([
    ['no token', async () => ''],
    ['garbage', async () => 'not.a.jwt'],
    ['a wrong signature', async () => (await good()).slice(0, -4) + 'AAAA'],
    ['an expired token', async () => hs256({ sub: 'alice', aud: 'gateway', iss: 'auth.example' }, Math.floor(Date.now() / 1000) - 10)],
    ['a token not valid yet', async () => hs256({ sub: 'alice', aud: 'gateway', iss: 'auth.example' }, '1h', Math.floor(Date.now() / 1000) + 600)],
    ['a wrong audience', async () => hs256({ sub: 'alice', aud: 'other', iss: 'auth.example' })],
    ['a wrong issuer', async () => hs256({ sub: 'alice', aud: 'gateway', iss: 'evil' })],
    ['no sub', async () => hs256({ aud: 'gateway', iss: 'auth.example' })],
    [
      'no exp',
      async () =>
        new SignJWT({ sub: 'alice', aud: 'gateway', iss: 'auth.example' })
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode(SECRET)),
    ],
  ])('refuses the upgrade with 401 for %s', async (_name, token) => {
    const value = await token();
    expect(await upgradeStatus(`${t.wsUrl}/${value ? `?token=${value}` : ''}`)).toBe(401);
  });

  it('tells a browser (an upgrade with Origin) why with a 4003 close, since it cannot read the 401', async () => {
    const browserLike = new WebSocket(`${t.wsUrl}/?token=not.a.jwt`, { headers: { origin: 'http://app.example' } });
    const frames: unknown[] = [];
    browserLike.on('message', (data) => frames.push(data));
    const [code, reason] = await new Promise<[number, string]>((resolve) => browserLike.on('close', (c, r) => resolve([c, r.toString()])));
    expect(code).toBe(4003);
    expect(reason.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(frames).toEqual([]); // no `connected`: nothing was registered
    const status = (await t.http('GET', '/status')).body;
    expect(status.refused_connections.unauthorized).toBeGreaterThan(0);
  });

  it('refuses an alg=none token', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'alice', aud: 'gateway', iss: 'auth.example' })).toString('base64url');
    expect(await upgradeStatus(`${t.wsUrl}/?token=${header}.${payload}.`)).toBe(401);
  });

  it('refuses to let a token user adopt another user, revealing nothing about that user\'s tasks', async () => {
    const client = await TestClient.open(`${t.wsUrl}/?token=${await good()}`);
    await client.next('connected');
    expect((await client.request({ action: 'subscribe', user_id: 'bob' }, 'error')).code).toBe('forbidden');
    const withTask = await client.request({ action: 'subscribe', user_id: 'bob', task_id: 'bobs-task' }, 'error');
    expect(withTask.message).toBe('This connection already belongs to another user');
    client.terminate();
  });

  it('keeps a connection whose token expires far in the future (beyond one timer\'s reach)', async () => {
    const monthLong = await hs256({ sub: 'alice', aud: 'gateway', iss: 'auth.example' }, '30d');
    const client = await TestClient.open(`${t.wsUrl}/?token=${monthLong}`);
    await client.next('connected');
    await sleep(100);
    expect(client.closeCode).toBeNull();
    expect((await client.request({ action: 'ping' }, 'pong')).type).toBe('pong');
    client.terminate();
  });

  it('closes the connection with 4001 when its token expires', async () => {
    // exp is whole seconds: +2 leaves at least a second to connect before it passes.
    const shortLived = await hs256({ sub: 'alice', aud: 'gateway', iss: 'auth.example' }, Math.floor(Date.now() / 1000) + 2);
    const client = await TestClient.open(`${t.wsUrl}/?token=${shortLived}`);
    await client.next('connected');
    expect(await client.closed).toBe(4001);
  });
});

describe('JWT with public keys', () => {
  let t: TestApp | undefined;
  let jwks: Server | undefined;
  afterEach(async () => {
    await t?.close();
    await new Promise((resolve) => (jwks ? jwks.close(resolve) : resolve(undefined)));
    jwks = undefined;
  });

  it('verifies RS256 tokens against a PEM public key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    t = await startTestApp({ AUTH_MODE: 'jwt', JWT_PUBLIC_KEY: await exportSPKI(publicKey) });
    const token = await new SignJWT({ sub: 'rsa-user' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('1h').sign(privateKey);
    const client = await TestClient.open(`${t.wsUrl}/?token=${token}`);
    expect((await client.next('connected')).user_id).toBe('rsa-user');
    const forged = await hs256({ sub: 'rsa-user' });
    expect(await upgradeStatus(`${t.wsUrl}/?token=${forged}`)).toBe(401);
  });

  it('verifies ES256 tokens against a JWKS URL', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => jwks!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    t = await startTestApp({ AUTH_MODE: 'jwt', JWT_JWKS_URL: url });
    const token = await new SignJWT({ sub: 'ec-user' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setExpirationTime('1h').sign(privateKey);
    const client = await TestClient.open(`${t.wsUrl}/?token=${token}`);
    expect((await client.next('connected')).user_id).toBe('ec-user');
  });
});

describe('REST API keys, origins and limits', () => {
  let t: TestApp;
  const key = { authorization: 'Bearer key-two' };
  beforeAll(async () => {
    t = await startTestApp({
      API_KEYS: 'key-one, key-two',
      WEBSOCKET_ALLOWED_ORIGINS: 'https://app.example',
      WEBSOCKET_MAX_CONNECTIONS_PER_USER: 2,
      WEBSOCKET_RATE_LIMIT: 5,
      WEBSOCKET_RATE_BURST: 5,
      WEBSOCKET_RATE_ABUSE_LIMIT: 50,
      CONFIRMATION_MAX_PENDING_PER_USER: 2,
      CONFIRMATION_MAX_PENDING_TOTAL: 3,
      WEBSOCKET_MAX_BUFFERED_BYTES: 64 * 1024,
    });
  });
  afterAll(() => t.close());

  it.each([
    ['POST', '/notify'],
    ['POST', '/broadcast'],
    ['POST', '/users/u/messages'],
    ['POST', '/tasks/t/messages'],
    ['POST', '/tasks/t/subscribers'],
    ['POST', '/heartbeats'],
    ['DELETE', '/heartbeats/x'],
    ['GET', '/tasks/t'],
    ['GET', '/confirmations/x'],
    ['GET', '/connections'],
    ['GET', '/messages/x'],
    ['DELETE', '/tasks/t/subscribers/u'],
    ['GET', '/status'],
    ['GET', '/metrics'],
  ])('%s %s needs an API key (401 JSON)', async (method, path) => {
    const wrongKeys: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: 'key-one' }, { authorization: 'Bearer key-on' }];
    for (const headers of wrongKeys) {
      const res = await t.http(method, path, method === 'POST' ? { type: 'x' } : undefined, headers);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('unauthorized');
    }
  });

  it('refuses a request without a key before reading its body', async () => {
    // The body is announced and never sent: a server that read bodies before checking
    // keys would sit waiting for it.
    const url = new URL(t.baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    socket.write('POST /notify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n');
    const [head] = (await once(socket, 'data')) as [Buffer];
    socket.destroy();
    expect(head.toString()).toMatch(/^HTTP\/1\.1 401 .*"code":"unauthorized"/s);
  });

  it('says nothing about which routes exist to a caller without a key', async () => {
    expect((await t.http('GET', '/no-such-route')).status).toBe(401);
    expect((await t.http('GET', '/no-such-route', undefined, key)).status).toBe(404);
  });

  it('accepts any configured key and keeps the probes public', async () => {
    expect((await t.http('GET', '/status', undefined, { authorization: 'Bearer key-one' })).status).toBe(200);
    expect((await t.http('GET', '/status', undefined, key)).status).toBe(200);
    expect((await t.http('GET', '/health')).status).toBe(200);
    expect((await t.http('GET', '/health/live')).status).toBe(200);
  });

  it('refuses browser upgrades from other origins, allows listed and origin-less ones', async () => {
    expect(await upgradeStatus(`${t.wsUrl}/`, { headers: { origin: 'https://evil.example' } })).toBe(403);
    expect(await upgradeStatus(`${t.wsUrl}/`, { headers: { origin: 'https://app.example' } })).toBe(101);
    expect(await upgradeStatus(`${t.wsUrl}/`)).toBe(101);
  });

  it('closes a user\'s oldest connection past the per-user limit with 4008', async () => {
    const first = await t.connect('tabby');
    const second = await t.connect('tabby');
    const third = await t.connect('tabby');
    expect(await first.closed).toBe(4008);
    expect(second.closeCode).toBeNull();
    expect((await third.request({ action: 'ping' }, 'pong')).type).toBe('pong');
  });

  it('rate-limits a flooding connection, then closes it with 1008; others are unaffected', async () => {
    const flooder = await t.connect('flooder');
    const honest = await t.connect('honest');
    for (let i = 0; i < 20; i++) flooder.send({ action: 'ping', i });
    await sleep(100);
    expect(flooder.ofType('pong').length).toBeLessThanOrEqual(6);
    expect(flooder.ofType('error').map((e) => e.code)).toEqual(['rate_limited']);
    for (let i = 0; i < 100; i++) flooder.send({ action: 'ping', i });
    expect(await flooder.closed).toBe(1008);
    expect((await honest.request({ action: 'ping' }, 'pong')).type).toBe('pong');
    const status = (await t.http('GET', '/status', undefined, key)).body;
    expect(status.flood_closed).toBeGreaterThanOrEqual(1);
    expect(status.rate_limited_frames).toBeGreaterThanOrEqual(50);
  });

  it('answers 429 with Retry-After past the pending caps, per user and in total', async () => {
    const ask = (user: string) => t.http('POST', '/notify?wait=false', notifyBody(user, 'cap-task'), key);
    expect((await ask('capped')).status).toBe(202);
    expect((await ask('capped')).status).toBe(202);
    const perUser = await ask('capped');
    expect(perUser.status).toBe(429);
    expect(perUser.headers.get('retry-after')).toBe('5');
    expect(perUser.body.code).toBe('too_many_pending');
    expect((await ask('other')).status).toBe(202);
    expect((await ask('third')).status).toBe(429);
  });

  it('closes a client that stops reading once its unsent data passes the limit; its confirmation waits', async () => {
    const bystander = await t.connect('bystander');
    // 'capped' has two pending confirmations from the test above.
    const slow = await t.connect('capped');
    await slow.next('task_step_result');
    slow.socket.pause(); // stop reading: the server's send buffer grows
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = { type: 'bulk', data: 'x'.repeat(60_000) };
    let closedBySlowness = false;
    for (let i = 0; i < 200 && !closedBySlowness; i++) {
      await t.http('POST', '/users/capped/messages', big, key);
      const status = (await t.http('GET', '/status', undefined, key)).body;
      closedBySlowness = status.slow_consumers_closed >= 1;
    }
    expect(closedBySlowness).toBe(true);
    expect((await t.http('POST', '/users/capped/messages', { type: 'x' }, key)).body).toEqual({ delivered: 0 });
    const back = await t.connect('capped');
    expect((await back.next('task_step_result')).user_id).toBe('capped');
    const broadcast = await t.http('POST', '/broadcast', { type: 'notice' }, key);
    expect(broadcast.body.delivered).toBeGreaterThanOrEqual(1);
    expect((await bystander.next('notice')).type).toBe('notice');
  });
});
