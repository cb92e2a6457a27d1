import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, startCluster } from './support/cluster.js';
import { expectEveryFrameOnceInOrder, ResumingConsumer, streamWhileDropping } from './support/resuming-consumer.js';
import { requireProgram } from './support/system-dependency.js';
import { TestClient } from './support/test-client.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

/** History in Redis: a client resumes on whichever instance it reaches next. */
(haveRedis ? describe : describe.skip)('cluster mode: resume on another instance', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster(2, { HISTORY_SIZE: '300' });
  }, 150_000);
  afterAll(() => cluster?.close());

  it('a client that drops every few frames, reconnecting to another instance each time, gets every frame once and in order', async () => {
    const { instances } = cluster;
    const consumer = new ResumingConsumer((attempt) => instances[attempt % instances.length].wsUrl, 'roamer', 'roam-task');
    let posts = 0;
    await streamWhileDropping((m, p, b) => instances[posts++ % instances.length].http(m, p, b), consumer, 'roamer', 'roam-task', 90);
    expectEveryFrameOnceInOrder(consumer, 90);
  }, 90_000);

  it('a drop longer than the history gives recovered: false', async () => {
    const [a, b] = cluster.instances;
    const first = await a.connect('cl-gone');
    const { epoch, offset } = first.frames[0];
    first.terminate();
    for (let seq = 1; seq <= 320; seq++) await b.http('POST', '/users/cl-gone/messages', { type: 'personal_notification', seq });
    const back = await TestClient.open(`${b.wsUrl}/?user_id=cl-gone&epoch=${epoch}&offset=${offset}`);
    const resumed = await back.next('resumed', 10_000);
    expect(resumed).toMatchObject({ stream: 'user', recovered: false, epoch, offset: offset + 320 });
    const notices = back.ofType('personal_notification');
    expect(notices.length).toBeGreaterThanOrEqual(300);
    expect(notices.length).toBe(resumed.missed);
    expect(notices[notices.length - 1].seq).toBe(320);
    back.terminate();
  }, 60_000);

  it('an ack-required message survives a reconnect to another instance and a restart of every instance, and stops after its ack', async () => {
    const [a, b] = cluster.instances;
    const first = await a.connect('cl-acker');
    await b.http('POST', '/users/cl-acker/messages', { type: 'personal_notification', message: 'approve', requires_ack: true });
    const { message_id: id } = await first.next('personal_notification', 10_000);
    first.terminate();
    const onB = await b.connect('cl-acker');
    expect((await onB.next('personal_notification', 10_000)).message_id).toBe(id);
    onB.terminate();

    await Promise.all(cluster.instances.map((instance) => instance.stop('SIGKILL')));
    await Promise.all(cluster.instances.map((instance) => instance.startProcess()));

    const waiting = a.http('GET', `/messages/${id}`);
    expect((await waiting).body).toMatchObject({ state: 'pending' });
    const afterRestart = await b.connect('cl-acker');
    expect((await afterRestart.next('personal_notification', 10_000)).message_id).toBe(id);
    await afterRestart.request({ action: 'ack', message_id: id }, 'ack_accepted');
    expect((await a.http('GET', `/messages/${id}`)).body).toMatchObject({ state: 'acknowledged', acked_by: 'cl-acker' });
    afterRestart.terminate();
    const last = await a.connect('cl-acker');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(last.ofType('personal_notification')).toHaveLength(0);
    last.terminate();
  }, 200_000);
});

/** The age bound: frames older than HISTORY_TTL_SECONDS are not replayed, wherever the client comes back. */
(haveRedis ? describe : describe.skip)('cluster mode: history bounded by age', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster(2, { HISTORY_SIZE: '300', HISTORY_TTL_SECONDS: '1' });
  }, 150_000);
  afterAll(() => cluster?.close());

  it('a client back after frames aged out gets recovered: false and only the frames still young enough', async () => {
    const [a, b] = cluster.instances;
    const first = await a.connect('cl-aged');
    const { epoch, offset } = first.frames[0];
    first.terminate();
    await b.http('POST', '/users/cl-aged/messages', { type: 'personal_notification', seq: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await b.http('POST', '/users/cl-aged/messages', { type: 'personal_notification', seq: 2 });
    const back = await TestClient.open(`${b.wsUrl}/?user_id=cl-aged&epoch=${epoch}&offset=${offset}`);
    const resumed = await back.next('resumed', 10_000);
    expect(resumed).toMatchObject({ stream: 'user', recovered: false, epoch, offset: offset + 2 });
    expect(back.ofType('personal_notification').map((frame) => frame.seq)).toEqual([2]);
    back.terminate();
  }, 60_000);
});
