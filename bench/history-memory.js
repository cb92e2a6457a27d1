// What the resume history keeps per user: the gateway with history off (HISTORY_SIZE=0) and
// on (the default 300 frames), in memory mode and in cluster mode on a fresh Redis. USERS
// connected users each get FRAMES of the realistic pushes (bench/lib/payload.js, in
// rotation); then the JS heap after a forced GC and Redis's used_memory are read against the
// same reading taken after the users connected. Usage (after npm run build):
//   node bench/history-memory.js [users] [frames]
import { once } from 'node:events';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createAgent, postJson } from './lib/http.js';
import { payload } from './lib/payload.js';
import { startRedis } from './lib/redis.js';
import { AUTH_HEADERS, freePort, ROOT, startServer } from './lib/servers.js';
import { sleep } from './lib/stats.js';

const USERS = Number(process.argv[2] ?? 100);
const FRAMES = Number(process.argv[3] ?? 300);
const IN_FLIGHT = 32;
const logDir = join(ROOT, 'bench/results/logs');

async function redisUsedMemory(redis) {
  return Number(/^used_memory:(\d+)/m.exec(await redis.client.info('memory'))?.[1]);
}

async function connectUsers(baseUrl) {
  const counts = new Array(USERS).fill(0);
  const sockets = [];
  for (let i = 0; i < USERS; i++) {
    const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/?user_id=hist-${i}`);
    await once(socket, 'message');
    socket.on('message', () => counts[i]++);
    sockets.push(socket);
  }
  return { sockets, received: () => counts.reduce((a, b) => a + b, 0) };
}

/** `total` pushes to `userOf(seq)`, IN_FLIGHT at a time. */
async function push(baseUrl, total, userOf) {
  const agent = createAgent(IN_FLIGHT);
  let next = 0;
  const worker = async () => {
    for (let seq = next++; seq < total; seq = next++) {
      const res = await postJson(`${baseUrl}/users/${userOf(seq)}/messages`, payload('history', seq), { agent, headers: AUTH_HEADERS });
      if (res.status !== 200) throw new Error(`push answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  agent.destroy();
}

async function measure(mode, historySize) {
  const redis = mode === 'cluster' ? await startRedis({ port: await freePort(), logPath: join(logDir, `history-redis-${historySize}.log`) }) : undefined;
  const extraEnv = { HISTORY_SIZE: String(historySize), ...(redis && { REDIS_URL: redis.url }) };
  const server = await startServer('gateway', { logDir, tag: `history-${mode}-${historySize}`, extraEnv });
  try {
    const { sockets, received } = await connectUsers(server.baseUrl);
    // Warm-up (code compiled, pools grown) on a user outside the measured ones.
    await push(server.baseUrl, FRAMES, () => 'hist-warm-up');
    const heapBefore = (await server.memory()).heapUsed;
    const redisBefore = redis ? await redisUsedMemory(redis) : 0;
    await push(server.baseUrl, USERS * FRAMES, (seq) => `hist-${seq % USERS}`);
    while (received() < USERS * FRAMES) await sleep(50);
    const heapAfter = (await server.memory()).heapUsed;
    const redisAfter = redis ? await redisUsedMemory(redis) : 0;
    for (const socket of sockets) socket.terminate();
    return { heap: (heapAfter - heapBefore) / USERS / 1024, redis: (redisAfter - redisBefore) / USERS / 1024 };
  } finally {
    await server.stop();
    await redis?.stop();
  }
}

console.log(`${USERS} users, ${FRAMES} realistic frames each (${USERS * FRAMES} pushes)\n`);
console.log('| mode | HISTORY_SIZE | JS heap kept per user (KiB) | Redis memory per user (KiB) |');
console.log('| --- | --- | --- | --- |');
for (const mode of ['memory', 'cluster']) {
  for (const historySize of [0, 300]) {
    const { heap, redis } = await measure(mode, historySize);
    console.log(`| ${mode} | ${historySize} | ${heap.toFixed(1)} | ${mode === 'cluster' ? redis.toFixed(1) : '-'} |`);
  }
}
process.exit(0);
