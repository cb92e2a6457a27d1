import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { StateBackend } from '../src/engine/state-backend.js';
import type { RedisBackend } from '../src/engine/redis-backend.js';
import type { RedisService } from '../src/redis/redis.service.js';

/** The Redis connections of an app started in cluster mode. */
const redisOf = (app: { get: (token: typeof StateBackend) => StateBackend }): RedisService => (app.get(StateBackend) as RedisBackend).redis;
import { ServiceInstance } from './support/processes.js';
import { RedisServer } from './support/redis-server.js';
import { RoundTrips } from './support/round-trips.js';
import { requireProgram } from './support/system-dependency.js';
import { sleep, startTestApp, TestApp } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

/**
 * Issue 20 item 7: a caller waiting for an ack taken by another instance is woken by
 * Redis pub/sub, not by polling the store. One instance runs in this process (its Redis
 * commands are counted), the other is the built service.
 */
(haveRedis ? describe : describe.skip)('ack waits across instances (cluster mode)', () => {
  let redis: RedisServer;
  let here: TestApp;
  let there: ServiceInstance;

  beforeAll(async () => {
    redis = await RedisServer.start();
    [here, there] = await Promise.all([startTestApp({ REDIS_URL: redis.url }), ServiceInstance.start({ REDIS_URL: redis.url })]);
  }, 60_000);
  afterAll(async () => {
    await here?.close();
    await there?.stop();
    await redis?.close();
  });

  it('an ack on the other instance wakes the waiting caller at once, without reads while it waits', async () => {
    const user = `ack-${randomUUID()}`;
    const tab = await there.connect(user);
    const trips = new RoundTrips(redisOf(here.app), (args) => args.some((arg) => arg.includes('{msg:')));
    const waiting = here.http('POST', `/users/${user}/messages?wait_ack_seconds=20`, { type: 'notice', requires_ack: true });
    const notice = await tab.next('notice');
    await sleep(1_500);
    const readsWhileWaiting = trips.commands.filter((c) => c.name === 'get').length;
    const ackedAt = Date.now();
    tab.send({ action: 'ack', message_id: notice.message_id });
    const answered = await waiting;
    const wokenAfterMs = Date.now() - ackedAt;

    expect(answered.body).toMatchObject({ message_id: notice.message_id, state: 'acknowledged', acknowledged: true });
    // One read once the caller waits (an ack may have come before), and perhaps the 5 s
    // safety re-read; polling read every 250 ms (six times here).
    expect(`${readsWhileWaiting} reads: ${trips.summary}`).toMatch(/^[12] reads/);
    // The safety re-read is 5 s apart: only the wake-up answers this soon.
    expect(wokenAfterMs).toBeLessThan(1_000);
  }, 30_000);
});
