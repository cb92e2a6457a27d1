// What REDIS_WAIT_REPLICAS=1 costs a confirmation round trip (POST /notify waiting for the
// answer, a ws client confirming at once): one primary and one replica on loopback, two
// gateway instances built from dist/ on them (REDIS_WAIT_REPLICAS=0 and =1, separate key
// prefixes), measured in alternating rounds so machine load falls on both alike.
//
//   npm run build && node bench/replica-wait.js [rounds=6] [seconds per round=4] [users=20]
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { installExitHandlers, track } from './lib/children.js';
import { createAgent, postJson } from './lib/http.js';
import { confirmAnswer, notifyBody } from './lib/payload.js';
import net from 'node:net';
import { AUTH_HEADERS, freePort, startServer } from './lib/servers.js';
import { percentile, sleep } from './lib/stats.js';

const [rounds = 6, seconds = 4, users = 20] = process.argv.slice(2).map(Number);
installExitHandlers();

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket.destroy() && true));
    socket.once('error', () => resolve(false));
  });
}

async function redisServer(args) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cgw-bench-redis-'));
  track(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], { stdio: 'ignore' }));
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer`);
    await sleep(50);
  }
  return port;
}

/** One auto-confirming ws client per user. */
async function connectUsers(server, tag) {
  const sockets = [];
  for (let i = 0; i < users; i++) {
    const socket = new WebSocket(`${server.baseUrl.replace('http', 'ws')}/?user_id=${tag}-${i}`);
    let answered = 0;
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'task_step_result') socket.send(JSON.stringify(confirmAnswer(frame.callback_id, answered++)));
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    sockets.push(socket);
  }
  return sockets;
}

/** `users` loops of POST /notify (waiting) for `seconds`: round-trip latencies in ms, and failures. */
async function measure(server, tag) {
  const agent = createAgent(users * 2);
  const latencies = [];
  let failures = 0;
  const until = performance.now() + seconds * 1000;
  let step = 0;
  await Promise.all(Array.from({ length: users }, async (_, i) => {
    while (performance.now() < until) {
      const started = performance.now();
      const body = notifyBody(`${tag}-${i}`, step++);
      const res = await postJson(`${server.baseUrl}/notify`, body, { agent, headers: AUTH_HEADERS }).catch(() => ({ status: 0 }));
      if (res.status === 200) latencies.push(performance.now() - started);
      else failures++;
    }
  }));
  agent.destroy();
  return { latencies, failures };
}

const primary = await redisServer([]);
await redisServer(['--replicaof', '127.0.0.1', String(primary)]);
await sleep(1000); // the replica's first sync
const logDir = join(tmpdir(), 'cgw-bench-replica-wait');
const configs = [
  { name: 'no WAIT', tag: 'off', env: { REDIS_WAIT_REPLICAS: '0' } },
  { name: 'WAIT 1 replica', tag: 'on', env: { REDIS_WAIT_REPLICAS: '1' } },
];
for (const config of configs) {
  config.server = await startServer('gateway', {
    logDir,
    tag: config.tag,
    extraEnv: { REDIS_URL: `redis://127.0.0.1:${primary}/0`, REDIS_KEY_PREFIX: `bench-${config.tag}:`, ...config.env },
  });
  config.sockets = await connectUsers(config.server, config.tag);
  config.latencies = [];
  config.failures = 0;
  config.measuredSeconds = 0;
  await measure(config.server, config.tag); // warm-up
}
for (let round = 0; round < rounds; round++) {
  for (const config of round % 2 === 0 ? configs : [...configs].reverse()) {
    const { latencies, failures } = await measure(config.server, config.tag);
    config.latencies.push(...latencies);
    config.failures += failures;
    config.measuredSeconds += seconds;
  }
}

const row = (c) => ({
  p50: percentile(c.latencies, 50),
  p99: percentile(c.latencies, 99),
  perSecond: c.latencies.length / c.measuredSeconds,
});
const [off, on] = configs.map(row);
console.log(`confirm round trips, ${users} concurrent callers, ${rounds} alternating rounds of ${seconds} s each, primary + 1 replica on loopback`);
console.log('| setting | round trips/s | p50 ms | p99 ms | failed |');
console.log('| --- | --- | --- | --- | --- |');
for (const [config, r] of [[configs[0], off], [configs[1], on]]) {
  console.log(`| ${config.name} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${config.failures} |`);
}
console.log(`WAIT / no WAIT: throughput ${(on.perSecond / off.perSecond).toFixed(2)}x, p50 ${(on.p50 / off.p50).toFixed(2)}x, p99 ${(on.p99 / off.p99).toFixed(2)}x`);
// How many WAITs ran for how many round trips (concurrent acknowledgements share one).
const redis = new Redis({ host: '127.0.0.1', port: primary });
const waits = Number(/cmdstat_wait:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
redis.disconnect();
const roundTrips = configs[1].latencies.length;
console.log(`WAIT calls on the primary: ${waits} for ${roundTrips} measured round trips with WAIT on (plus warm-up), ${(waits / roundTrips).toFixed(2)} per round trip (two acknowledgements each: creation, decision)`);
for (const config of configs) {
  for (const socket of config.sockets) socket.terminate();
  await config.server.stop();
}
process.exit(0);
