import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { StateBackend } from '../src/engine/state-backend.js';
import type { RedisBackend } from '../src/engine/redis-backend.js';
import type { RedisService } from '../src/redis/redis.service.js';

/** The Redis connections of an app started in cluster mode. */
const redisOf = (app: { get: (token: typeof StateBackend) => StateBackend }): RedisService => (app.get(StateBackend) as RedisBackend).redis;
import { RedisServer } from './support/redis-server.js';
import { RoundTrips } from './support/round-trips.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

/** Issue 20 item 7: the cluster hot path, counted on a real redis-server. */
(haveRedis ? describe : describe.skip)('Redis round trips of confirmations (cluster mode)', () => {
  let redis: RedisServer;
  let t: TestApp;

  beforeAll(async () => {
    redis = await RedisServer.start();
    t = await startTestApp({ REDIS_URL: redis.url });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it('POST /notify publishes the prompt after at most two sequential round trips', async () => {
    const user = `rt-${randomUUID()}`;
    const trips = new RoundTrips(redisOf(t.app), (args) => args.some((arg) => arg.includes(user)));
    const tab = await t.connect(user);
    await sleep(100); // the user's channel subscription is not what is counted
    trips.reset();

    const posted = await t.http('POST', '/notify?wait=false', notifyBody(user, 'task-rt', { callback_id: `${user}-cb` }));
    expect(posted.status).toBe(202);
    expect((await tab.next('task_step_result')).callback_id).toBe(`${user}-cb`);

    const publish = trips.commands.find((c) => c.args.some((arg) => arg.includes(`ch:user:${user}`)));
    expect(publish).toBeDefined();
    // Round trips before the one that publishes: the claim, the reservation and the task's
    // users together, then the create script.
    expect(`${(publish?.round ?? 0) - 1} round trips before publishing: ${trips.summary}`).toMatch(/^[12] round trips/);
  });

  it('the callers waiting here are re-read in one batch, not one after another', async () => {
    const user = `rt-${randomUUID()}`;
    const trips = new RoundTrips(redisOf(t.app), (args) => args.some((arg) => arg.includes(user)));
    const waiting = [1, 2, 3, 4].map((n) => t.http('POST', '/notify', notifyBody(user, 'task-rt', { callback_id: `${user}-${n}`, timeout_seconds: 30 })));
    await sleep(500);
    trips.reset();
    // The safety re-read runs every 5 s; nothing else reads these confirmations meanwhile.
    await sleep(5_500);
    const reads = trips.commands.filter((c) => c.name === 'get' || c.name === 'hgetall');
    expect(reads.length).toBeGreaterThanOrEqual(8);
    expect(`${Math.max(...reads.map((c) => c.round))} round trips for ${reads.length} reads: ${trips.summary}`).toMatch(/^2 round trips/);
    const tab = await t.connect(user);
    for (let i = 0; i < waiting.length; i++) {
      const prompt = await tab.next('task_step_result');
      tab.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true });
    }
    expect((await Promise.all(waiting)).map((r) => r.body.state)).toEqual(['confirmed', 'confirmed', 'confirmed', 'confirmed']);
  }, 20_000);
});
