import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { Cluster, startCluster } from './support/cluster.js';
import { broadcastOfSize, FloodedSocket, floodWithResumes } from './support/resume-flood.js';
import { requireProgram } from './support/system-dependency.js';
import { startTestApp, TestApp } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

const BROADCASTS = 100;
const BROADCAST_BYTES = 10_000;
/** What one full catch-up of the broadcast stream sends, with room for the frames' envelopes. */
const HISTORY_BYTES = BROADCASTS * (BROADCAST_BYTES + 200);
/** The `resumed` frames (and any resume_in_progress errors) the flood's resumes get: small each. */
const REPLIES_BYTES = 200 * 200;

/** Every socket got the broadcast history once, in order, and nothing like it again. */
function expectEachSocketCaughtUpOnce(flooded: FloodedSocket[]): void {
  for (const socket of flooded) {
    expect(socket.closedWith).toBeUndefined();
    expect(socket.broadcastOffsets).toEqual(Array.from({ length: BROADCASTS }, (_, i) => i + 1));
    expect(socket.bytes).toBeLessThan(HISTORY_BYTES + REPLIES_BYTES);
    expect(socket.resumed).toBeGreaterThan(10);
  }
}

/**
 * Issue 19.1: sockets that send `resume` from offset 0 again and again were sent the whole
 * history every time (memory mode: gigabytes in seconds; cluster mode: Redis piled up
 * gigabytes of replies for the instance). A catch-up now costs what the client missed, once.
 */
describe('a flood of resume frames (memory mode)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ HISTORY_SIZE: 300 });
    for (let seq = 1; seq <= BROADCASTS; seq++) expect((await t.http('POST', '/broadcast', broadcastOfSize(BROADCAST_BYTES, seq))).status).toBe(200);
  });
  afterAll(() => t.close());

  it('sends each socket what it missed once, however often it asks', async () => {
    const flooded = await floodWithResumes(t.wsUrl, 'flooder', 5, 3000);
    if (process.env.FLOOD_REPORT) process.stdout.write(JSON.stringify(flooded.map((f) => ({ bytes: f.bytes, offsets: f.broadcastOffsets.length, resumed: f.resumed, errors: f.errors, closedWith: f.closedWith }))) + '\n');
    expectEachSocketCaughtUpOnce(flooded);
  }, 30_000);
});

(haveRedis ? describe : describe.skip)('a flood of resume frames (cluster mode)', () => {
  let cluster: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    cluster = await startCluster(2, { HISTORY_SIZE: '300' });
    redis = new Redis(cluster.redis.url, { lazyConnect: true });
    await redis.connect();
    const [, b] = cluster.instances;
    for (let seq = 1; seq <= BROADCASTS; seq++) expect((await b.http('POST', '/broadcast', broadcastOfSize(BROADCAST_BYTES, seq))).status).toBe(200);
  }, 150_000);
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.close();
  });

  it("never lets one instance's replies pile up in Redis, and sends each socket what it missed once", async () => {
    const [a, b] = cluster.instances;
    const before = await memoryOf(redis);
    const peak = { usedMemory: before.usedMemory, clientsMemory: before.clientsMemory, outputBuffer: 0 };
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const now = await memoryOf(redis);
        peak.usedMemory = Math.max(peak.usedMemory, now.usedMemory);
        peak.clientsMemory = Math.max(peak.clientsMemory, now.clientsMemory);
        peak.outputBuffer = Math.max(peak.outputBuffer, now.outputBuffer);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const flooding = floodWithResumes(a.wsUrl, 'flooder', 20, 4000);
    // The other instance keeps serving while the flood runs.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const startedAt = Date.now();
    expect((await b.http('POST', '/users/bystander/messages', { type: 'personal_notification' })).status).toBe(200);
    const answeredInMs = Date.now() - startedAt;
    const flooded = await flooding;
    watching = false;
    await watcher;

    if (process.env.FLOOD_REPORT) process.stdout.write(JSON.stringify({ before, peak, answeredInMs, sockets: flooded.map((f) => ({ bytes: f.bytes, offsets: f.broadcastOffsets.length, resumed: f.resumed, errors: f.errors, closedWith: f.closedWith })) }) + '\n');
    expectEachSocketCaughtUpOnce(flooded);
    expect(answeredInMs).toBeLessThan(2000);
    // Replies of one page each (256 KiB and at most one more frame), one catch-up in flight
    // per socket and at most 16 page reads per instance, however many sockets resume.
    expect(peak.outputBuffer).toBeLessThan(16 * (256 * 1024 + BROADCAST_BYTES + 8000));
    expect(peak.clientsMemory - before.clientsMemory).toBeLessThan(8 * 1024 * 1024);
    expect(peak.usedMemory - before.usedMemory).toBeLessThan(16 * 1024 * 1024);
  }, 60_000);
});

/** Redis's memory in use, what its clients' buffers take, and the largest output buffer of a client lately. */
async function memoryOf(redis: Redis): Promise<{ usedMemory: number; clientsMemory: number; outputBuffer: number }> {
  const info = await redis.info();
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { usedMemory: field('used_memory'), clientsMemory: field('mem_clients_normal'), outputBuffer: field('client_recent_max_output_buffer') };
}
