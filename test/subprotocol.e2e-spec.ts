import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { Cluster, startCluster } from './support/cluster.js';
import { request, startTestApp, TestApp } from './support/test-app.js';

const JWT_SECRET = 'subprotocol-test-secret-of-at-least-32-chars';
const API_KEY = 'subprotocol-test-api-key';
const AUTH = { authorization: `Bearer ${API_KEY}` };
const JWT_ENV = { AUTH_MODE: 'jwt', JWT_SECRET, API_KEYS: API_KEY };

function tokenFor(user: string): Promise<string> {
  return new SignJWT({ sub: user }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET));
}

interface Handshake {
  /** The Sec-WebSocket-Protocol the server selected, if any. */
  selected: string | undefined;
  socket: Socket;
}

/**
 * A WebSocket handshake by hand, so the answer's headers can be read whatever they hold
 * (`ws` refuses a handshake without a subprotocol when it offered one; browsers accept it).
 * The socket stays open on the server's side until the test destroys it.
 */
function handshake(wsUrl: string, protocols: string[]): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${wsUrl.replace(/^ws/, 'http')}/ws`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': protocols.join(', '),
      },
    });
    req.on('upgrade', (res: { headers: IncomingHttpHeaders }, socket: Socket) => {
      resolve({ selected: res.headers['sec-websocket-protocol'] as string | undefined, socket });
    });
    req.on('response', (res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

/** A `ws` client offering the gateway's protocol name beside the token, as the SDK does. */
async function withProtocolName(wsUrl: string, token: string): Promise<WebSocket> {
  const socket = new WebSocket(`${wsUrl}/`, ['gateway.v1', `bearer.${token}`]);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return socket;
}

describe('the token subprotocol is read, never selected (memory mode)', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp(JWT_ENV);
    token = await tokenFor('tess');
  });
  afterAll(() => t.close());

  it('selects gateway.v1 when offered, nothing when only the token is offered, and GET /connections never shows the token', async () => {
    const named = await withProtocolName(t.wsUrl, token);
    expect(named.protocol).toBe('gateway.v1');
    const tokenOnly = await handshake(t.wsUrl, [`bearer.${token}`]);
    const named2 = await handshake(t.wsUrl, [`bearer.${token}`, 'gateway.v1']);
    expect(named2.selected).toBe('gateway.v1');

    const listing = await request(t.baseUrl, 'GET', '/connections?user_id=tess', undefined, AUTH);
    expect(listing.status).toBe(200);
    expect(JSON.stringify(listing.body)).not.toContain(token);
    expect(listing.body.connections.map((c: { protocol: string | null }) => c.protocol).sort()).toEqual(['gateway.v1', 'gateway.v1', null]);
    expect(tokenOnly.selected).toBeUndefined();

    const metrics = await request(t.baseUrl, 'GET', '/metrics', undefined, AUTH);
    expect(String(metrics.body)).not.toContain(token);
    named.terminate();
    tokenOnly.socket.destroy();
    named2.socket.destroy();
  });
});

describe('the token subprotocol is read, never selected (cluster mode, two instances on Redis)', () => {
  let cluster: Cluster;
  let spy: Redis;
  const published: string[] = [];
  beforeAll(async () => {
    cluster = await startCluster(2, { ...JWT_ENV, LOG_LEVEL: 'debug' });
    spy = new Redis(cluster.redis.url);
    spy.on('pmessage', (_pattern, channel, message) => published.push(`${channel} ${message}`));
    await spy.psubscribe('*');
  }, 120_000);
  afterAll(async () => {
    spy?.disconnect();
    await cluster?.close();
  });

  it('neither the listing across instances, the messages between them, the logs nor /metrics carry the token', async () => {
    const [first, second] = cluster.instances;
    const token = await tokenFor('cleo');
    const named = await withProtocolName(first.wsUrl, token);
    expect(named.protocol).toBe('gateway.v1');
    const tokenOnly = await handshake(first.wsUrl, [`bearer.${token}`]);

    // Asked on the instance holding neither: the answer crosses Redis from the first.
    const listing = await second.http('GET', '/connections?user_id=cleo', undefined, AUTH);
    expect(listing.status).toBe(200);
    expect(listing.body.count).toBe(2);
    expect(listing.body.connections.map((c: { protocol: string | null }) => c.protocol).sort()).toEqual(['gateway.v1', null]);
    expect(JSON.stringify(listing.body)).not.toContain(token);
    expect(published.some((line) => line.includes('cleo'))).toBe(true);
    expect(published.filter((line) => line.includes(token))).toEqual([]);
    expect(tokenOnly.selected).toBeUndefined();

    for (const instance of cluster.instances) {
      const metrics = await instance.http('GET', '/metrics', undefined, AUTH);
      expect(String(metrics.body)).not.toContain(token);
      expect(instance.output).not.toContain(token);
    }
    named.terminate();
    tokenOnly.socket.destroy();
  });
});
