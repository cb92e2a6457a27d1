import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, sleep, startCluster, startOnRedisCluster } from './support/cluster.js';
import { waitFor } from './support/processes.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody } from './support/test-app.js';
import { execFileSync } from 'node:child_process';

/** redis-cli on one node, with the given commands on its standard input. */
function redisCli(port: number, commands: string[], ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', input: commands.join('\n') });
}

const haveRedis = requireProgram('redis-server', 'redis-server') && requireProgram('redis-cli', 'redis-tools');

const topologies: Array<[string, (size: number, env: Record<string, string>) => Promise<Cluster>]> = [
  ['one Redis', startCluster],
  // Proves the keys fit Redis Cluster: every atomic step stays within one hash slot.
  ['a three-master Redis Cluster', startOnRedisCluster],
];

/** Three instances sharing one Redis (or one Redis Cluster) act as one service. */
(haveRedis ? describe.each(topologies) : describe.skip.each(topologies))('cluster mode: three instances on %s', (_name, start) => {
  let cluster: Cluster;
  let a: Cluster['instances'][number];
  let b: Cluster['instances'][number];
  let c: Cluster['instances'][number];

  beforeAll(async () => {
    cluster = await start(3, { CONFIRMATION_MAX_PENDING_PER_USER: '3', WEBSOCKET_MAX_CONNECTIONS_PER_USER: '2' });
    [a, b, c] = cluster.instances;
  }, 200_000);
  afterAll(() => cluster?.close(), 30_000);

  it('a prompt posted to one instance reaches every tab of the user; the answer on another returns to the caller', async () => {
    const tabOnB = await b.connect('alice');
    const tabOnC = await c.connect('alice');
    const waiting = a.http('POST', '/notify', notifyBody('alice', 'task-x', { callback_id: 'x-1' }));
    const [promptB, promptC] = await Promise.all([tabOnB.next('task_step_result'), tabOnC.next('task_step_result')]);
    expect(promptB.callback_id).toBe('x-1');
    expect(promptC.callback_id).toBe('x-1');

    tabOnC.send({ action: 'confirm', callback_id: 'x-1', proceed: true, feedback: '同意继续' });
    await tabOnC.next('confirmation_accepted');
    const decision = await waiting;
    expect(decision.status).toBe(200);
    expect(decision.body).toMatchObject({ callback_id: 'x-1', state: 'confirmed', proceed: true, feedback: '同意继续' });
    expect(await tabOnB.next('confirmation_resolved')).toMatchObject({ callback_id: 'x-1', state: 'confirmed' });

    tabOnB.send({ action: 'confirm', callback_id: 'x-1', proceed: false });
    expect(await tabOnB.next('error')).toMatchObject({ code: 'already_resolved' });
    // A later decision reaches tabOnC the same way: a second telling of x-1 would come first.
    await a.http('POST', '/notify?wait=false', notifyBody('alice', 'task-x2', { callback_id: 'x-2' }));
    await Promise.all([tabOnB.next('task_step_result'), tabOnC.next('task_step_result')]);
    await tabOnB.request({ action: 'confirm', callback_id: 'x-2', proceed: true }, 'confirmation_accepted');
    expect(await tabOnC.next('confirmation_resolved')).toMatchObject({ callback_id: 'x-2' });
    // The tab that answered x-1 is not told again.
    expect(tabOnC.ofType('confirmation_resolved').map((f) => f.callback_id)).toEqual(['x-2']);
  });

  it('first answer wins across instances when two tabs answer at once', async () => {
    const tabOnA = await a.connect('ann');
    const tabOnB = await b.connect('ann');
    const waiting = c.http('POST', '/notify', notifyBody('ann', 'task-race', { callback_id: 'race-1' }));
    await Promise.all([tabOnA.next('task_step_result'), tabOnB.next('task_step_result')]);
    tabOnA.send({ action: 'confirm', callback_id: 'race-1', proceed: true });
    tabOnB.send({ action: 'confirm', callback_id: 'race-1', proceed: false });
    const decision = (await waiting).body;
    // Each tab's reply comes on its own socket; settled() then shows nothing more is on its way.
    for (const tab of [tabOnA, tabOnB]) {
      await waitFor(() => tab.ofType('confirmation_accepted').length + tab.ofType('error').length > 0, 3000, 'the reply to the confirm');
      await tab.settled();
    }
    const accepted = [...tabOnA.ofType('confirmation_accepted'), ...tabOnB.ofType('confirmation_accepted')];
    const refused = [...tabOnA.ofType('error'), ...tabOnB.ofType('error')];
    expect(accepted).toHaveLength(1);
    expect(refused).toEqual([expect.objectContaining({ code: 'already_resolved' })]);
    expect(decision.proceed).toBe(accepted[0].proceed);
  });

  it('an offline user gets the pending prompt when they connect to any instance', async () => {
    const created = await a.http('POST', '/notify?wait=false', notifyBody('olga', 'task-o', { callback_id: 'o-1' }));
    expect(created.status).toBe(202);
    const tab = await c.connect('olga');
    expect(await tab.next('task_step_result')).toMatchObject({ callback_id: 'o-1', task_id: 'task-o' });
  });

  it('the same callback_id posted to two instances is one confirmation and one prompt', async () => {
    const tab = await c.connect('ida');
    const [first, second] = await Promise.all([
      a.http('POST', '/notify?wait=false', notifyBody('ida', 'task-i', { callback_id: 'i-1' })),
      b.http('POST', '/notify?wait=false', notifyBody('ida', 'task-i', { callback_id: 'i-1' })),
    ]);
    expect([first.status, second.status]).toEqual([202, 202]);
    await tab.next('task_step_result');
    // A message from each instance that took the POST comes after any prompt it sent.
    for (const instance of [a, b]) await instance.http('POST', '/users/ida/messages', { type: 'personal_notification', message: 'after' });
    await tab.next('personal_notification');
    await tab.next('personal_notification');
    // One prompt published to the user's stream: live frames carry the stream's offset. A copy
    // without one is the connect-time read of pending prompts racing this POST, which PROTOCOL
    // allows ("Prompts may arrive twice on a new connection"): the same prompt, not a second one.
    const prompts = tab.ofType('task_step_result').filter((f) => f.callback_id === 'i-1');
    expect(prompts.filter((f) => f.offset !== undefined)).toHaveLength(1);
    for (const prompt of prompts) expect({ ...prompt, offset: undefined }).toEqual({ ...prompts[0], offset: undefined });
    const conflict = await c.http('POST', '/notify?wait=false', notifyBody('mallory', 'task-i', { callback_id: 'i-1' }));
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('callback_conflict');
  });

  it('reads, long polls and task descriptions work from every instance', async () => {
    await a.http('POST', '/notify?wait=false', notifyBody('rita', 'task-r', { callback_id: 'r-1' }));
    const read = await b.http('GET', '/confirmations/r-1');
    expect(read.body).toMatchObject({ callback_id: 'r-1', state: 'pending', user_id: 'rita' });
    const task = await c.http('GET', '/tasks/task-r');
    expect(task.body.pending_confirmations.map((p: { callback_id: string }) => p.callback_id)).toEqual(['r-1']);

    const longPoll = c.http('GET', '/confirmations/r-1?wait_seconds=20');
    await sleep(300);
    const tab = await b.connect('rita');
    await tab.next('task_step_result');
    tab.send({ action: 'confirm', callback_id: 'r-1', proceed: false, feedback: 'stop' });
    expect((await longPoll).body).toMatchObject({ state: 'rejected', proceed: false, feedback: 'stop' });
    expect((await a.http('GET', '/confirmations/r-1')).body.state).toBe('rejected');
  });

  it('the per-user pending cap holds across instances', async () => {
    for (const [i, instance] of [a, b, c].entries()) {
      expect((await instance.http('POST', '/notify?wait=false', notifyBody('capped', `task-cap-${i}`))).status).toBe(202);
    }
    const refused = await a.http('POST', '/notify?wait=false', notifyBody('capped', 'task-cap-3'));
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('too_many_pending');
    expect(refused.headers.get('retry-after')).not.toBeNull();
  });

  it('a broadcast reaches every client once; a message for one user costs nothing where the user is not', async () => {
    const tabs = await Promise.all([a.connect(), b.connect(), c.connect()]);
    const sent = await b.http('POST', '/broadcast', { type: 'system_notification', message: '系统将在5分钟后维护', level: 'warning' });
    expect(sent.status).toBe(200);
    for (const tab of tabs) expect(await tab.next('system_notification')).toMatchObject({ level: 'warning' });
    // A second broadcast, from another instance, comes after any second copy of the first.
    await c.http('POST', '/broadcast', { type: 'system_notification', message: 'second', level: 'info' });
    for (const tab of tabs) expect(await tab.next('system_notification')).toMatchObject({ message: 'second' });
    for (const tab of tabs) expect(tab.ofType('system_notification').map((f) => f.message)).toEqual(['系统将在5分钟后维护', 'second']);

    const umaTab = await a.connect('uma');
    const before = await Promise.all([a, b, c].map(async (i) => (await i.http('GET', '/status')).body.cluster.frames_received.user));
    for (let n = 0; n < 5; n++) await c.http('POST', '/users/uma/messages', { type: 'personal_notification', message: `done ${n}` });
    for (let n = 0; n < 5; n++) await umaTab.next('personal_notification');
    // Each instance reads Redis in publish order: once a later broadcast has reached a tab on
    // it, any of uma's frames it was sent has been counted.
    await a.http('POST', '/broadcast', { type: 'system_notification', message: 'fence', level: 'info' });
    for (const tab of tabs) await waitFor(() => tab.ofType('system_notification').some((f) => f.message === 'fence'), 3000, 'the fence broadcast');
    const after = await Promise.all([a, b, c].map(async (i) => (await i.http('GET', '/status')).body.cluster.frames_received.user));
    expect(umaTab.ofType('personal_notification')).toHaveLength(5);
    expect(after[0] - before[0]).toBe(5);
    expect(after[1] - before[1]).toBe(0);
    expect(after[2] - before[2]).toBe(0);
  });

  it('a message answers how many instances hold the user, whichever node their channel lives on', async () => {
    // Users whose channels hash to different slots (and so, on a Redis Cluster, to different nodes).
    const users = ['dora', 'emil', 'fern', 'gus', 'hana', 'ivo'];
    const tabs = await Promise.all(users.flatMap((user) => [b.connect(user), c.connect(user)]));
    for (const user of users) {
      const sent = await a.http('POST', `/users/${user}/messages`, { type: 'notice', text: `hello ${user}` });
      expect({ user, delivered: sent.body.delivered }).toEqual({ user, delivered: 2 });
    }
    expect((await a.http('POST', '/users/nobody-here/messages', { type: 'notice' })).body.delivered).toBe(0);
    for (const tab of tabs) tab.terminate();
  });

  it('GET /connections on any instance lists every instance\'s connections', async () => {
    // Two tabs (the per-user limit here), on A and C; asked on B, which holds neither.
    const [tabOnA, tabOnC] = [await a.connect('lena'), await c.connect('lena')];
    const [idA, idB, idC] = await Promise.all([a, b, c].map(async (i) => (await i.http('GET', '/status')).body.cluster.instance_id as string));
    const listing = (await b.http('GET', '/connections?user_id=lena')).body;
    expect(listing.instance).toBe(idB);
    expect({ instances: [...listing.instances].sort(), unreachable: listing.unreachable }).toEqual({ instances: [idA, idB, idC].sort(), unreachable: [] });
    expect(listing.count).toBe(2);
    const byInstance = new Map(listing.connections.map((v: { instance: string; connection_id: string }) => [v.instance, v.connection_id]));
    expect(byInstance.get(idA)).toBe(tabOnA.frames[0].connection_id);
    expect(byInstance.get(idC)).toBe(tabOnC.frames[0].connection_id);
    expect((await c.http('GET', '/connections')).body.count).toBeGreaterThanOrEqual(2);
  });

  it('delivery latency is observed once per frame on the instances that wrote it, not where it was posted', async () => {
    const tabs = [await b.connect('lars'), await b.connect('lars')];
    const deliveries = async () =>
      Promise.all([a, b, c].map(async (i) => Number(/^gateway_delivery_latency_seconds_count (\d+)/m.exec((await i.http('GET', '/metrics')).body)?.[1])));
    const before = await deliveries();
    await a.http('POST', '/users/lars/messages', { type: 'personal_notification', message: '导入完成' });
    for (const tab of tabs) await tab.next('personal_notification');
    const after = await deliveries();
    expect(after.map((n, i) => n - before[i])).toEqual([0, 1, 0]);
  });

  it('cancel on one instance settles confirmations made on another and stops a heartbeat running on a third', async () => {
    const waiting = a.http('POST', '/notify', notifyBody('cara', 'task-c', { callback_id: 'c-1' }));
    const heartbeat = await b.http('POST', '/heartbeats', { user_id: 'cara', task_id: 'task-c', interval_seconds: 0.5 });
    expect(heartbeat.status).toBe(201);
    const tab = await c.connect('cara');
    await tab.next('task_step_result');
    await tab.next('heartbeat');
    tab.send({ action: 'cancel', task_id: 'task-c' });
    expect(await tab.next('task_cancelled')).toMatchObject({ task_id: 'task-c' });
    expect((await waiting).body).toMatchObject({ state: 'cancelled', proceed: false, cancelled: true });
    const task = await b.http('GET', '/tasks/task-c');
    expect(task.body).toMatchObject({ cancelled: true, cancelled_by: 'cara', heartbeat: null });
    await sleep(300);
    const beats = tab.ofType('heartbeat').length;
    await sleep(1200);
    expect(tab.ofType('heartbeat').length).toBe(beats);
  });

  it('a heartbeat started on one instance stops through another, and grants hold everywhere', async () => {
    const started = await a.http('POST', '/heartbeats', { user_id: 'hank', task_id: 'task-h', interval_seconds: 0.5 });
    const tab = await c.connect('hank');
    await tab.next('heartbeat');
    expect((await b.http('DELETE', `/heartbeats/${started.body.heartbeat_id}`)).status).toBe(204);
    await sleep(300);
    const beats = tab.ofType('heartbeat').length;
    await sleep(1200);
    expect(tab.ofType('heartbeat').length).toBe(beats);
    expect((await c.http('DELETE', `/heartbeats/${started.body.heartbeat_id}`)).status).toBe(404);

    expect((await a.http('POST', '/tasks/task-g/subscribers', { user_id: 'gina' })).status).toBe(201);
    const gina = await c.connect('gina');
    gina.send({ action: 'subscribe', task_id: 'task-g' });
    await gina.next('subscription_confirmed');
    await b.http('POST', '/tasks/task-g/messages', { type: 'task_progress', progress: 40 });
    expect(await gina.next('task_progress')).toMatchObject({ progress: 40, task_id: 'task-g' });
    expect((await b.http('DELETE', '/tasks/task-g/subscribers/gina')).status).toBe(204);
    await sleep(300);
    await a.http('POST', '/tasks/task-g/messages', { type: 'task_progress', progress: 80 });
    await sleep(300);
    expect(gina.ofType('task_progress')).toHaveLength(1);
  });

  it('the per-user connection limit holds across instances: the oldest tab closes wherever it is', async () => {
    const oldest = await a.connect('lim');
    const middle = await b.connect('lim');
    await sleep(200);
    const newest = await c.connect('lim');
    expect(await oldest.closed).toBe(4008);
    await sleep(300);
    expect(middle.closeCode).toBeNull();
    expect(newest.closeCode).toBeNull();
  });

  it('every key but the deployment-wide schedules expires, so Redis memory stays bounded', async () => {
    const tab = await b.connect('kyle');
    await a.http('POST', '/notify?wait=false', notifyBody('kyle', 'task-k1', { callback_id: 'k1' }));
    await a.http('POST', '/notify?wait=false', notifyBody('kyle', 'task-k2', { callback_id: 'k2' }));
    await tab.next('task_step_result');
    tab.send({ action: 'confirm', callback_id: 'k1', proceed: true });
    await tab.next('confirmation_accepted');
    tab.send({ action: 'cancel', task_id: 'task-k2' });
    await tab.next('task_cancelled');
    await c.http('POST', '/tasks/task-k1/subscribers', { user_id: 'lee' });
    await c.http('POST', '/heartbeats', { user_id: 'kyle', task_id: 'task-k3', interval_seconds: 30 });

    const nodes = cluster.redisCluster?.nodes ?? [cluster.redis];
    const lasting: string[] = [];
    let scanned = 0;
    for (const node of nodes) {
      const keys = redisCli(node.port, [], '--scan', '--pattern', 'cgw:*').split('\n').filter(Boolean);
      // One redis-cli run per node: each key's remaining time, in the order asked.
      const ttls = redisCli(node.port, keys.map((key) => `PTTL "${key}"`)).split('\n').filter(Boolean);
      keys.forEach((key, i) => ttls[i].trim() === '-1' && lasting.push(key));
      scanned += keys.length;
    }
    expect(scanned).toBeGreaterThan(15);
    for (const key of lasting) expect(key).toMatch(/^cgw:\{global\}:(expiries|hb-leases|instances)$/);
  });

  it('status reports this instance and the cluster', async () => {
    const status = (await b.http('GET', '/status')).body;
    expect(status).toMatchObject({ running: true, cluster: { instances_alive: 3 } });
    expect(status.cluster.pending_confirmations).toBeGreaterThan(0);
    expect((await a.http('GET', '/health')).body.info.redis.status).toBe('up');
  });
});
