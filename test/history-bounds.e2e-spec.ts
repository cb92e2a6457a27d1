import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HistoryStore } from '../src/history/history.store.js';
import { MemoryHistoryStore } from '../src/history/memory-history.store.js';
import { Cluster, startCluster } from './support/cluster.js';
import { requireProgram } from './support/system-dependency.js';
import { sleep, startTestApp, TestApp } from './support/test-app.js';
import { TestClient } from './support/test-client.js';

const haveRedis = requireProgram('redis-server', 'redis-server');
const MiB = 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
}

/** A personal message of about `bytes` bytes of JSON. */
const messageOf = (bytes: number, seq: number) => ({ type: 'personal_notification', seq, padding: 'x'.repeat(bytes) });

/**
 * Issue 19.5: 400 posts of 1 MB to offline users took a process from 106 MB to 555 MB, past
 * the shipped pod limit. The history is bounded in bytes per stream and in total.
 */
describe('history bounded in bytes (memory mode)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ HISTORY_MAX_BYTES_TOTAL: 16 * MiB, HISTORY_MAX_BYTES_PER_STREAM: 2 * MiB });
  });
  afterAll(() => t.close());

  it('many ~1 MB posts to offline users keep the history, and the heap, under HISTORY_MAX_BYTES_TOTAL', async () => {
    const heapBefore = await settledHeap();
    for (let seq = 0; seq < 80; seq++) {
      expect((await t.http('POST', `/users/offline-${seq % 40}/messages`, messageOf(1_000_000, seq))).status).toBe(200);
    }
    const heapAfter = await settledHeap();
    const history = t.app.get(HistoryStore) as MemoryHistoryStore;
    if (process.env.HISTORY_REPORT) process.stdout.write(`history bytes ${history.totalBytes}, heap ${heapBefore} -> ${heapAfter}\n`);
    expect(history.totalBytes).toBeLessThanOrEqual(16 * MiB);
    // 80 MB were posted; what stays is the bound plus what the process needs anyway.
    expect(heapAfter - heapBefore).toBeLessThan(16 * MiB + 16 * MiB);
  }, 60_000);

  it('a stream over its byte bound drops its oldest frames: the client is told "not recovered" and gets what is kept', async () => {
    const first = await t.connect('heavy');
    const { epoch, offset } = first.frames[0];
    first.terminate();
    for (let seq = 1; seq <= 5; seq++) await t.http('POST', '/users/heavy/messages', messageOf(600_000, seq));
    const back = await TestClient.open(`${t.wsUrl}/?user_id=heavy&epoch=${epoch}&offset=${offset}`);
    const resumed = await back.next('resumed');
    expect(resumed).toMatchObject({ recovered: false, offset: offset + 5, missed: 3 });
    expect(back.ofType('personal_notification').map((frame) => frame.seq)).toEqual([3, 4, 5]);
    back.terminate();
  });
});

(haveRedis ? describe : describe.skip)('history bounded in bytes (cluster mode)', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster(1, { HISTORY_MAX_BYTES_PER_STREAM: String(300_000) });
    redis = new Redis(cluster.redis.url, { lazyConnect: true });
    await redis.connect();
  }, 150_000);
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.close();
  });

  it("trims a user's stream by bytes in the append script: Redis keeps about the bound, the client gets what is kept", async () => {
    const [a] = cluster.instances;
    const first = await a.connect('cl-heavy');
    const { epoch, offset } = first.frames[0];
    first.terminate();
    for (let seq = 1; seq <= 20; seq++) expect((await a.http('POST', '/users/cl-heavy/messages', messageOf(50_000, seq))).status).toBe(200);
    let streamBytes = 0;
    for (const key of await redis.keys('*cl-heavy*')) if ((await redis.type(key)) === 'stream') streamBytes += (await redis.memory('USAGE', key)) ?? 0;
    if (process.env.HISTORY_REPORT) process.stdout.write(`Redis stream bytes ${streamBytes}\n`);
    expect(streamBytes).toBeGreaterThan(200_000);
    expect(streamBytes).toBeLessThan(400_000);

    const back = await TestClient.open(`${a.wsUrl}/?user_id=cl-heavy&epoch=${epoch}&offset=${offset}`);
    const resumed = await back.next('resumed', 10_000);
    expect(resumed).toMatchObject({ recovered: false, offset: offset + 20, missed: 5 });
    expect(back.ofType('personal_notification').map((frame) => frame.seq)).toEqual([16, 17, 18, 19, 20]);
    back.terminate();
  }, 60_000);
});
