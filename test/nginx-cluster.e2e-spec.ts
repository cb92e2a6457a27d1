import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { containerEnvironment, gatewayServiceNames, loadCompose } from './support/deployment.js';
import { NginxServer } from './support/nginx.js';
import { ServiceInstance, waitFor } from './support/processes.js';
import { RedisServer } from './support/redis-server.js';
import { startSeedBrowserClient } from './support/seed-browser-client.js';
import { locateProgram, requireProgram } from './support/system-dependency.js';
import { notifyBody, request } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');
const nginxBinary = locateProgram('nginx', 'nginx', ['/usr/sbin', '/usr/local/sbin']);

/**
 * docker-compose.yml's topology without Docker: a real redis-server, the three gateway
 * services' settings (from the compose file, so production mode with tokens and API keys)
 * on three processes, and a real nginx running deploy/nginx/gateway.conf in front.
 */
(haveRedis && nginxBinary ? describe : describe.skip)('the compose topology: nginx, three instances, one Redis (e2e)', () => {
  let redis: RedisServer;
  let instances: ServiceInstance[];
  let nginx: NginxServer;
  let apiKey: string;
  let jwtSecret: string;

  const viaNginx = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    request(nginx.baseUrl, method, path, body, { authorization: `Bearer ${apiKey}`, ...headers });
  const tokenFor = (user: string) =>
    new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setExpirationTime('10m').sign(new TextEncoder().encode(jwtSecret));
  const statusOf = async (instance: ServiceInstance) =>
    (await instance.http('GET', '/status', undefined, { authorization: `Bearer ${apiKey}` })).body;
  /** Sockets of earlier tests are gone (a close takes a moment to reach the instance). */
  const noSocketsLeft = () =>
    waitFor(async () => (await Promise.all(instances.map(statusOf))).every((status) => status.active_connections === 0), 5_000, 'no sockets');

  beforeAll(async () => {
    const compose = loadCompose();
    redis = await RedisServer.start();
    const environments = gatewayServiceNames(compose).map((name): Record<string, string> => ({
      ...containerEnvironment(compose.services[name]),
      REDIS_URL: redis.url, // the compose file's `redis` host is this redis-server
      WEBSOCKET_HOST: '127.0.0.1',
    }));
    [apiKey] = environments[0].API_KEYS.split(',');
    jwtSecret = environments[0].JWT_SECRET;
    const started = await Promise.allSettled(environments.map((env) => ServiceInstance.start(env)));
    instances = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason; // afterAll stops the ones that did start
    nginx = await NginxServer.start(nginxBinary!, instances.map((instance) => instance.port));
  }, 150_000);

  afterAll(async () => {
    await nginx?.close();
    await Promise.all((instances ?? []).map((instance) => instance.stop()));
    await redis?.close();
  });

  it('routes /health to an instance in cluster mode, the REST API with its keys, and the inbox page', async () => {
    const health = await request(nginx.baseUrl, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body.info.redis.status).toBe('up');
    expect((await request(nginx.baseUrl, 'GET', '/health/live')).status).toBe(200);

    expect((await request(nginx.baseUrl, 'GET', '/status')).status).toBe(401);
    const status = await viaNginx('GET', '/status');
    expect(status.status).toBe(200);
    // Each instance announces itself once its Redis connection is ready, which can follow its
    // first HTTP answer by a moment.
    await waitFor(async () => (await viaNginx('GET', '/status')).body.cluster.instances_alive === 3, 10_000, 'three instances alive');

    const inbox = await request(nginx.baseUrl, 'GET', '/inbox');
    expect(inbox.status).toBe(200);
    expect(inbox.headers.get('content-type')).toContain('text/html');
  });

  it('the design document\'s browser client answers, through /ws/, a prompt posted through nginx', async () => {
    const token = await tokenFor('seed-user');
    const seen: string[] = [];
    const client = startSeedBrowserClient(`${nginx.wsUrl}/ws/?token=${token}`, (message) => {
      seen.push(message);
      return true;
    });
    await waitFor(() => client.received.some((frame) => frame.type === 'connected'), 5_000, 'connected');

    const decision = await viaNginx('POST', '/notify', notifyBody('seed-user', 'seed-task'));
    expect(decision.status).toBe(200);
    expect(decision.body).toMatchObject({ state: 'confirmed', proceed: true, feedback: '同意继续', timed_out: false });
    expect(seen).toEqual(['Validation finished with 5 errors. Continue?']);
    expect(client.received.filter((frame) => frame.type === 'error')).toEqual([]);

    client.stop();
    await waitFor(() => nginx.accessLog().includes('"GET /ws/ HTTP/1.1" 101'), 5_000, 'the socket in the access log');
    expect(nginx.accessLog()).toContain('"POST /notify HTTP/1.1" 200');
    expect(nginx.accessLog() + nginx.output).not.toContain(token);
  });

  it('a prompt posted through nginx reaches a tab that another instance holds', async () => {
    await noSocketsLeft();
    const before = await Promise.all(instances.map(statusOf));
    const client = startSeedBrowserClient(`${nginx.wsUrl}/ws/?token=${await tokenFor('far-user')}`, () => false);
    await waitFor(() => client.received.some((frame) => frame.type === 'connected'), 5_000, 'connected');
    const during = await Promise.all(instances.map(statusOf));
    const holder = during.findIndex((status, i) => status.active_connections === before[i].active_connections + 1);
    expect(holder).toBeGreaterThanOrEqual(0);

    // least_conn: the instance holding the socket has one connection more, so the POST goes elsewhere.
    const decision = await viaNginx('POST', '/notify', notifyBody('far-user', 'far-task'));
    expect(decision.body).toMatchObject({ state: 'rejected', proceed: false, feedback: '取消执行' });
    const after = await Promise.all(instances.map(statusOf));
    const creator = after.findIndex((status, i) => status.confirmations.created === during[i].confirmations.created + 1);
    expect(creator).toBeGreaterThanOrEqual(0);
    expect(creator).not.toBe(holder);
    client.stop();
  });

  it('spreads new sockets over all three instances', async () => {
    const clients = [];
    await noSocketsLeft();
    const before = await Promise.all(instances.map(statusOf));
    for (const user of ['spread-1', 'spread-2', 'spread-3']) {
      const client = startSeedBrowserClient(`${nginx.wsUrl}/ws/?token=${await tokenFor(user)}`, () => true);
      await waitFor(() => client.received.some((frame) => frame.type === 'connected'), 5_000, 'connected');
      clients.push(client);
    }
    const after = await Promise.all(instances.map(statusOf));
    expect(after.map((status, i) => status.active_connections - before[i].active_connections)).toEqual([1, 1, 1]);
    for (const client of clients) client.stop();
  });

  // `/` is where the design document's client connects, `/ws` the SDK's and the inbox page's.
  it.each(['/', '/ws', '/ws/'])('passes WebSocket handshakes at %s on, with the token as a subprotocol', async (path) => {
    const socket = new WebSocket(`${nginx.wsUrl}${path}`, ['gateway.v1', `bearer.${await tokenFor('path-user')}`]);
    const first = await new Promise<any>((resolve, reject) => {
      socket.once('message', (data) => resolve(JSON.parse(data.toString())));
      socket.once('error', reject);
    });
    expect(socket.protocol).toBe('gateway.v1');
    expect(first).toMatchObject({ type: 'connected', user_id: 'path-user' });
    socket.close();
  });
});
