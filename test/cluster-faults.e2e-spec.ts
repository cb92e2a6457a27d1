import { afterEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { Cluster, sleep, startCluster, startOnRedisCluster } from './support/cluster.js';
import { freePort, ServiceInstance, waitFor } from './support/processes.js';
import { RedisServer } from './support/redis-server.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody } from './support/test-app.js';
import { TestClient } from './support/test-client.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

/** Faults in cluster mode: instances killed, Redis stopped and restarted. Nothing pending is lost. */
(haveRedis ? describe : describe.skip)('cluster mode under faults', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('a killed instance\'s confirmation still times out exactly once, told to the user on another instance', async () => {
    cluster = await startCluster(3);
    const [a, b] = cluster.instances;
    const tab = await b.connect('tim');
    void a.http('POST', '/notify', notifyBody('tim', 'task-t', { callback_id: 't-1', timeout_seconds: 2 })).catch(() => null);
    await tab.next('task_step_result');
    const expiresAtMs = (await b.http('GET', '/confirmations/t-1')).body.expires_at * 1000;
    await a.stop('SIGKILL');
    // PROTOCOL 'An instance dies': timed out within about a second of its expiry.
    const resolved = await tab.next('confirmation_resolved', Math.max(0, expiresAtMs - Date.now()) + 1500);
    expect(resolved).toMatchObject({ callback_id: 't-1', state: 'timed_out' });
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAtMs - 50);
    await sleep(2500);
    expect(tab.ofType('confirmation_resolved')).toHaveLength(1);
    expect((await b.http('GET', '/confirmations/t-1')).body).toMatchObject({ state: 'timed_out', timed_out: true });
  }, 40_000);

  it('after a SIGKILL the user reconnects elsewhere and the caller\'s retry with the same callback_id gets the answer', async () => {
    cluster = await startCluster(3);
    const [a, b, c] = cluster.instances;
    const firstTab = await a.connect('kim');
    const killedId = (await a.http('GET', '/connections')).body.instance;
    const lost = a.http('POST', '/notify', notifyBody('kim', 'task-k', { callback_id: 'k-1' })).catch((err: Error) => err);
    await firstTab.next('task_step_result');
    await a.stop('SIGKILL');
    expect(await lost).toHaveProperty('message', 'fetch failed'); // the caller's connection died with the instance
    // Still counted alive for a few seconds: listed as unreachable, not silently left out.
    const listing = (await b.http('GET', '/connections')).body;
    expect(listing.unreachable).toEqual([killedId]);
    expect(listing.instances).toHaveLength(2);

    const retry = b.http('POST', '/notify', notifyBody('kim', 'task-k', { callback_id: 'k-1' }));
    const tab = await c.connect('kim');
    expect(await tab.next('task_step_result')).toMatchObject({ callback_id: 'k-1' });
    await sleep(200);
    tab.send({ action: 'confirm', callback_id: 'k-1', proceed: true, feedback: 'ok' });
    expect((await retry).body).toMatchObject({ callback_id: 'k-1', state: 'confirmed', feedback: 'ok' });
    expect(tab.ofType('task_step_result').filter((f) => f.callback_id === 'k-1').length).toBeLessThanOrEqual(2);
  }, 40_000);

  it('a killed instance\'s heartbeat is taken over within two intervals', async () => {
    cluster = await startCluster(2);
    const [a, b] = cluster.instances;
    const started = await a.http('POST', '/heartbeats', { user_id: 'hal', task_id: 'task-hb', interval_seconds: 1 });
    expect(started.status).toBe(201);
    const tab = await b.connect('hal');
    await tab.next('heartbeat', 3000);
    const signalledAt = Date.now();
    await a.stop('SIGKILL');
    const deadAt = Date.now();
    // Only a beat stamped after a was dead is the survivor's: one of a's still in flight
    // when it died cannot count.
    const afterDeath = () => tab.ofType('heartbeat').filter((f) => f.timestamp * 1000 > deadAt);
    await waitFor(() => afterDeath().length > 0, 5000, 'a beat from the surviving instance');
    // Within two intervals (2 s) of the kill, by the beat's own time and by its arrival.
    expect(afterDeath()[0].timestamp * 1000 - signalledAt).toBeLessThanOrEqual(2000 + 100);
    expect(Date.now() - signalledAt).toBeLessThanOrEqual(2000 + 300);
    await tab.next('heartbeat', 3000);
    await tab.next('heartbeat', 3000);
    expect((await b.http('GET', '/tasks/task-hb')).body.heartbeat.heartbeat_id).toBe(started.body.heartbeat_id);
  }, 40_000);

  it('SIGTERM (a rolling deploy): the waiting caller gets 503 and its retry elsewhere finds the same confirmation', async () => {
    cluster = await startCluster(2);
    const [a, b] = cluster.instances;
    const tab = await b.connect('sue');
    const waiting = a.http('POST', '/notify', notifyBody('sue', 'task-s', { callback_id: 's-1' }));
    // The prompt reached sue: the confirmation exists before a goes down.
    expect(await tab.next('task_step_result')).toMatchObject({ callback_id: 's-1' });
    const before = (await b.http('GET', '/confirmations/s-1')).body;
    expect(before).toMatchObject({ callback_id: 's-1', state: 'pending', user_id: 'sue' });
    await a.stop('SIGTERM');
    const refused = await waiting;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toMatchObject({ code: 'unavailable', callback_id: 's-1' });

    // The retry elsewhere meets the same record, not a new one: same expiry in its answer, same
    // creation time afterwards, and no second prompt.
    const again = await b.http('POST', '/notify?wait=false', notifyBody('sue', 'task-s', { callback_id: 's-1' }));
    expect(again.body).toMatchObject({ callback_id: 's-1', state: 'pending', expires_at: before.expires_at });
    const after = (await b.http('GET', '/confirmations/s-1')).body;
    expect(after).toMatchObject({ state: 'pending', created_at: before.created_at, expires_at: before.expires_at });
    const retry = b.http('POST', '/notify', notifyBody('sue', 'task-s', { callback_id: 's-1' }));
    tab.send({ action: 'confirm', callback_id: 's-1', proceed: false });
    expect((await retry).body).toMatchObject({ callback_id: 's-1', state: 'rejected' });
    expect(tab.ofType('task_step_result').filter((f) => f.callback_id === 's-1')).toHaveLength(1);
  }, 40_000);

  it('Redis down: readiness fails, /notify answers 503 at once, sockets stay; Redis back (AOF): nothing lost', async () => {
    cluster = await startCluster(2, {}, { persistent: true });
    const [a, b] = cluster.instances;
    const tab = await b.connect('ray');
    await a.http('POST', '/notify?wait=false', notifyBody('ray', 'task-r', { callback_id: 'before-1' }));
    await a.http('POST', '/notify?wait=false', notifyBody('ray', 'task-r', { callback_id: 'before-2' }));
    await tab.next('task_step_result');
    tab.send({ action: 'confirm', callback_id: 'before-1', proceed: false, feedback: 'decided before' });
    await tab.next('confirmation_accepted');

    // A caller already waiting when Redis goes: woken by the decision made once it is back.
    const waitingAcross = a.http('POST', '/notify', notifyBody('ray', 'task-r', { callback_id: 'before-2' }));
    const redisCli = (...args: string[]) => execFileSync('redis-cli', ['-p', String(cluster!.redis.port), ...args], { encoding: 'utf8' }).trim();
    // Its instance is on record as waiting (the set of waiting instances) before Redis goes.
    const isWaiterSet = (key: string) => key !== '' && redisCli('TYPE', key) === 'set' && Number(redisCli('SCARD', key)) > 0;
    await waitFor(() => redisCli('--scan', '--pattern', '*before-2*').split('\n').some(isWaiterSet), 5000, 'the caller to wait');

    await cluster.redis.stop('SIGKILL');
    await waitFor(async () => (await a.http('GET', '/health')).status === 503, 5000, 'readiness to fail');
    const started = Date.now();
    const refused = await a.http('POST', '/notify', notifyBody('ray', 'task-r'));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('unavailable');
    expect(refused.headers.get('retry-after')).toBe('2'); // REDIS_RETRY_AFTER_SECONDS, as PROTOCOL says
    // Socket actions that need shared state answer `unavailable` too, and the socket stays.
    tab.send({ action: 'confirm', callback_id: 'before-2', proceed: true });
    expect(await tab.next('error', 5000)).toMatchObject({ code: 'unavailable', action: 'confirm' });
    expect((await a.http('GET', '/health/live')).status).toBe(200);
    expect(tab.closeCode).toBeNull();

    await cluster.redis.startProcess();
    await waitFor(async () => (await a.http('GET', '/health')).status === 200, 15_000, 'readiness to recover');
    await waitFor(async () => (await b.http('GET', '/health')).status === 200, 15_000, 'readiness to recover');
    expect((await b.http('GET', '/confirmations/before-1')).body).toMatchObject({ state: 'rejected', feedback: 'decided before' });
    expect((await b.http('GET', '/confirmations/before-2')).body.state).toBe('pending');
    // A tab opened now is sent the prompt still pending.
    const newTab = await a.connect('ray');
    expect(await newTab.next('task_step_result')).toMatchObject({ callback_id: 'before-2' });

    // Pub/sub is back: a prompt made now reaches the socket that stayed open, and answers flow.
    const waiting = a.http('POST', '/notify', notifyBody('ray', 'task-r', { callback_id: 'after-1' }));
    await waitFor(() => tab.ofType('task_step_result').some((f) => f.callback_id === 'after-1'), 5000, 'the prompt after recovery');
    tab.send({ action: 'confirm', callback_id: 'before-2', proceed: true });
    tab.send({ action: 'confirm', callback_id: 'after-1', proceed: true });
    expect((await waiting).body.state).toBe('confirmed');
    expect((await a.http('GET', '/confirmations/before-2')).body.state).toBe('confirmed');
    expect((await waitingAcross).body).toMatchObject({ callback_id: 'before-2', state: 'confirmed' });
  }, 60_000);

  it('a lost wake-up is made good by the 5 s re-read; Redis back without its data: a new epoch, so no resume claims recovered', async () => {
    cluster = await startCluster(1);
    const [a] = cluster.instances;
    // A decision that reaches Redis without its pub/sub message: written straight into the
    // record, as if the wake-up had been lost on the way.
    const waiting = a.http('POST', '/notify', notifyBody('lou', 'task-l', { callback_id: 'lost-1' }));
    await waitFor(async () => (await a.http('GET', '/confirmations/lost-1')).body.state === 'pending', 5000, 'lost-1 pending');
    const redisCli = (...args: string[]) => execFileSync('redis-cli', ['-p', String(cluster!.redis.port), ...args], { encoding: 'utf8' }).trim();
    const key = redisCli('--scan', '--pattern', '*lost-1*').split('\n').find((k) => redisCli('HGET', k, 'st') === 'pending');
    expect(key).toBeDefined();
    const decidedAt = Date.now();
    redisCli('HSET', key!, 'st', 'confirmed', 'p', '1', 'fb', 'decided elsewhere', 'sa', String(decidedAt));
    const answer = await waiting;
    expect(answer.body).toMatchObject({ callback_id: 'lost-1', state: 'confirmed', feedback: 'decided elsewhere' });
    expect(Date.now() - decidedAt).toBeLessThan(5000 + 1500);

    const tab = await a.connect('lou');
    const { epoch } = tab.frames[0];
    await a.http('POST', '/users/lou/messages', { type: 'personal_notification', message: 'kept in history' });
    const { offset } = await tab.next('personal_notification');
    await cluster.redis.stop('SIGKILL');
    await cluster.redis.startProcess(); // no AOF: the history is gone
    await waitFor(async () => (await a.http('GET', '/health')).status === 200, 15_000, 'readiness to recover');
    const back = await TestClient.open(`${a.wsUrl}/?user_id=lou&epoch=${epoch}&offset=${offset}`);
    a.clients.push(back);
    expect((await back.next('connected')).epoch).not.toBe(epoch);
    expect(await back.next('resumed')).toMatchObject({ recovered: false });
  }, 60_000);

  it('starts while Redis is unreachable (not ready, no crash loop) and becomes ready when Redis appears', async () => {
    const port = await freePort();
    const instance = await ServiceInstance.start({ REDIS_URL: `redis://127.0.0.1:${port}/0` });
    let redis: RedisServer | undefined;
    try {
      expect((await instance.http('GET', '/health/live')).status).toBe(200);
      expect((await instance.http('GET', '/health')).status).toBe(503);
      expect((await instance.http('POST', '/notify', notifyBody('early', 'task-e'))).status).toBe(503);
      redis = await RedisServer.start({ port });
      await waitFor(async () => (await instance.http('GET', '/health')).status === 200, 15_000, 'readiness once Redis is up');
      const asked = await instance.http('POST', '/notify?wait=false', notifyBody('early', 'task-e'));
      expect(asked.status).toBe(202);
      // The channels it asked for while Redis was away are subscribed now: a broadcast from a
      // second instance reaches its tab, and it answers that instance's connection listing.
      const second = await ServiceInstance.start({ REDIS_URL: `redis://127.0.0.1:${port}/0` });
      try {
        const tab = await instance.connect('early');
        await tab.next('task_step_result');
        expect((await second.http('POST', '/broadcast', { type: 'system_notification', message: '系统维护', level: 'info' })).status).toBe(200);
        expect(await tab.next('system_notification')).toMatchObject({ message: '系统维护' });
        const listing = (await second.http('GET', '/connections?user_id=early')).body;
        expect({ count: listing.count, unreachable: listing.unreachable }).toEqual({ count: 1, unreachable: [] });
      } finally {
        await second.stop();
      }
      expect(instance.output).toMatch(/Redis unavailable .*retrying with back-off/);
      expect(instance.output.match(/Redis unavailable/g)?.length).toBeLessThanOrEqual(4); // once per connection, not per retry
    } finally {
      await instance.stop();
      await redis?.close();
    }
  }, 60_000);

  it('a Redis Cluster node restarts: the sharded subscriptions it held come back, and frames reach the tab again', async () => {
    cluster = await startOnRedisCluster(2);
    const [a, b] = cluster.instances;
    const nodes = cluster.redisCluster!.nodes;
    const tab = await b.connect('zoe');
    expect((await a.http('POST', '/users/zoe/messages', { type: 'notice', n: 1 })).body.delivered).toBe(1);
    await tab.next('notice');
    // The node that owns the slot of zoe's keys (and so of zoe's channel).
    const slot = Number(execFileSync('redis-cli', ['-p', String(nodes[0].port), 'cluster', 'keyslot', '{u:zoe}'], { encoding: 'utf8' }));
    const owner = nodes.find((node) => ownsSlot(node.port, slot))!;
    await owner.stop();
    await sleep(500);
    await owner.startProcess();
    await waitFor(() => nodes.every((node) => execFileSync('redis-cli', ['-p', String(node.port), 'cluster', 'info'], { encoding: 'utf8' }).includes('cluster_state:ok')), 30_000, 'the Redis Cluster to be ok again');
    let n = 1;
    await waitFor(async () => (await a.http('POST', '/users/zoe/messages', { type: 'notice', n: ++n })).body.delivered === 1, 30_000, 'zoe\'s channel to be subscribed again');
    expect(await tab.next('notice')).toMatchObject({ n });
  }, 90_000);
});

/** Whether the node on `port` serves `slot` (CLUSTER SLOTS: start, end, then the master's address). */
function ownsSlot(port: number, slot: number): boolean {
  const ranges = execFileSync('redis-cli', ['-p', String(port), '--json', 'cluster', 'slots'], { encoding: 'utf8' });
  return (JSON.parse(ranges) as Array<[number, number, [string, number]]>).some(([start, end, [, master]]) => slot >= start && slot <= end && master === port);
}
