// The reconnect storm (`npm run bench -- --storm`, issue 23): three gateway instances behind
// deploy/nginx/gateway.conf's nginx on one Redis, BENCH_CLIENTS clients on the JS SDK itself
// (clients/js/dist: its back-off, jitter and resume, unchanged), a push to some user every
// few milliseconds. One instance is killed with SIGKILL; its clients reconnect through nginx
// to the others. Reported: time until every orphan is connected and resumed, handshakes per
// second, handshake p50/p99, peak RSS per instance, Redis CPU, and frames lost (must be 0).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { GatewayClient } from '../../clients/js/dist/index.js';
import { startCluster } from '../lib/cluster.js';
import { createAgent, postJson } from '../lib/http.js';
import { payload } from '../lib/payload.js';
import { startNginx } from '../lib/nginx.js';
import { AUTH_HEADERS } from '../lib/servers.js';
import { percentile, sleep } from '../lib/stats.js';

export async function runStorm(cfg, log) {
  const clients = cfg.stormClients;
  const env = {
    WEBSOCKET_MAX_CONNECTIONS: String(clients + 1000),
    WEBSOCKET_MAX_CONCURRENT_HANDSHAKES: String(cfg.stormMaxHandshakes),
    // Each user has one client; the storm is about reconnecting, not about frame limits.
    WEBSOCKET_RATE_LIMIT: '1000',
    WEBSOCKET_RATE_BURST: '1000',
  };
  log(`storm: ${clients} SDK clients through nginx on three instances, WEBSOCKET_MAX_CONCURRENT_HANDSHAKES=${cfg.stormMaxHandshakes}`);
  const cluster = await startCluster('gateway', { logDir: cfg.logDir, tag: 'storm', size: 3, env });
  const nginx = await startNginx(cluster.instances.map((instance) => Number(new URL(instance.baseUrl).port)), { workerConnections: clients * 2 + 1000 });
  const users = [];
  const pusher = new Pusher(nginx.url, clients);
  const rssPeak = cluster.instances.map(() => 0);
  const sampler = setInterval(() => cluster.instances.forEach((instance, i) => {
    const rss = instance.alive() ? instance.rss() : NaN;
    if (Number.isFinite(rss)) rssPeak[i] = Math.max(rssPeak[i], rss);
  }), 200);
  try {
    for (let i = 0; i < clients; i += 200) {
      for (let j = i; j < Math.min(clients, i + 200); j++) users.push(new StormUser(`storm-${j}`, `${nginx.wsUrl}/ws`));
      await waitUntil(() => users.every((user) => user.client.state === 'connected'), 120_000, 'clients connected');
    }
    log(`storm: ${clients} connected; pushes flowing`);
    pusher.start();
    await sleep(3_000);

    const killedAt = Date.now();
    const redisCpuBefore = cluster.redis.cpuSeconds();
    const load = os.loadavg()[0];
    cluster.instances[0].child.kill('SIGKILL');
    log(`storm: killed instance 1 (pid ${cluster.instances[0].pid})`);
    await sleep(1_000);
    const orphans = users.filter((user) => user.lostAt !== null && user.lostAt >= killedAt);
    await waitUntil(() => orphans.every((user) => user.client.state === 'connected' && user.resumedAfter(killedAt)), 180_000, 'orphans back and resumed');
    const backAt = Math.max(...orphans.map((user) => user.resumedAt));
    const redisCpu = cluster.redis.cpuSeconds() - redisCpuBefore;
    const stormSeconds = (backAt - killedAt) / 1000;
    await sleep(2_000);
    await pusher.stop();
    await waitUntil(() => users.every((user) => pusher.acknowledgedFor(user.id).every((seq) => user.seqs.has(seq))), 20_000, 'acknowledged pushes delivered').catch(() => undefined);

    const handshakes = orphans.flatMap((user) => user.handshakesAfter(killedAt));
    const lost = users.reduce((sum, user) => sum + pusher.acknowledgedFor(user.id).filter((seq) => !user.seqs.has(seq)).length, 0);
    const duplicated = users.reduce((sum, user) => sum + user.duplicates, 0);
    const outOfOrder = users.reduce((sum, user) => sum + user.outOfOrder, 0);
    const notRecovered = orphans.filter((user) => user.resumed.some((frame) => frame.at >= killedAt && frame.recovered !== true)).length;
    const refusedWith1013 = orphans.reduce((sum, user) => sum + user.closes.filter((close) => close.at >= killedAt && close.code === 1013).length, 0);
    const result = {
      date: new Date().toISOString(),
      clients,
      maxConcurrentHandshakes: cfg.stormMaxHandshakes,
      orphans: orphans.length,
      secondsUntilAllBack: +stormSeconds.toFixed(2),
      handshakesPerSecond: +(orphans.length / stormSeconds).toFixed(0),
      handshakeP50Ms: percentile(handshakes, 50),
      handshakeP99Ms: percentile(handshakes, 99),
      refusedWith1013,
      peakRssMiB: rssPeak.map((rss) => +(rss / 2 ** 20).toFixed(1)),
      redisCpuSeconds: +redisCpu.toFixed(2),
      redisCpuPercentDuringStorm: +((redisCpu / stormSeconds) * 100).toFixed(0),
      pushesAcknowledged: pusher.acknowledgedCount,
      framesLost: lost,
      framesDuplicated: duplicated,
      framesOutOfOrder: outOfOrder,
      resumedNotRecovered: notRecovered,
      loadAverageAtKill: +load.toFixed(2),
      cpus: os.cpus().length,
    };
    const name = cfg.smoke ? 'storm-smoke' : 'storm';
    writeFileSync(join(cfg.resultsDir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(cfg.resultsDir, `${name}.md`), report(result));
    process.stdout.write(`\n${report(result)}`);
    const failures = [lost && `${lost} frames lost`, duplicated && `${duplicated} duplicated`, outOfOrder && `${outOfOrder} out of order`, notRecovered && `${notRecovered} resumes not recovered`].filter(Boolean);
    if (failures.length) log(`storm: FAILED: ${failures.join(', ')}`);
    return failures.length === 0;
  } finally {
    clearInterval(sampler);
    await pusher.stop();
    for (const user of users) user.client.disconnect();
    await nginx.stop();
    await cluster.stop();
  }
}

function report(r) {
  return [
    `# Reconnect storm: ${r.clients} JS SDK clients, one of three instances killed (${r.date.slice(0, 16).replace('T', ' ')} UTC)`,
    '',
    '| figure | value |',
    '|---|---|',
    `| orphaned clients (their instance was killed with SIGKILL) | ${r.orphans} |`,
    `| time until every orphan is connected and resumed | ${r.secondsUntilAllBack} s |`,
    `| handshakes per second (orphans ÷ that time) | ${r.handshakesPerSecond} |`,
    `| handshake p50 / p99 (SDK: connecting → connected, the successful attempt) | ${r.handshakeP50Ms} / ${r.handshakeP99Ms} ms |`,
    `| closes with 1013 (WEBSOCKET_MAX_CONCURRENT_HANDSHAKES=${r.maxConcurrentHandshakes}) | ${r.refusedWith1013} |`,
    `| peak RSS per instance | ${r.peakRssMiB.join(' / ')} MiB |`,
    `| Redis CPU during the storm | ${r.redisCpuSeconds} s (${r.redisCpuPercentDuringStorm} % of one core) |`,
    `| pushes acknowledged; frames lost / duplicated / out of order | ${r.pushesAcknowledged}; ${r.framesLost} / ${r.framesDuplicated} / ${r.framesOutOfOrder} |`,
    `| resumes after the kill with recovered: false | ${r.resumedNotRecovered} |`,
    `| load average (1 min) at the kill, cores | ${r.loadAverageAtKill}, ${r.cpus} |`,
    '',
  ].join('\n');
}

async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** One user on the SDK, recording raw frames (before the SDK's own duplicate check) and timings. */
class StormUser {
  seqs = new Set();
  duplicates = 0;
  outOfOrder = 0;
  lastSeq = -1;
  resumed = [];
  closes = [];
  lostAt = null;
  resumedAt = 0;
  #attempts = [];

  constructor(id, url) {
    this.id = id;
    const user = this;
    class RecordingWebSocket extends WebSocket {
      constructor(address, protocols) {
        super(address, protocols, { perMessageDeflate: false });
        this.on('message', (data) => user.#raw(JSON.parse(String(data))));
        this.on('close', (code) => user.closes.push({ code, at: Date.now() }));
      }
    }
    this.client = new GatewayClient({ url, userId: id, WebSocket: RecordingWebSocket, pingIntervalMs: 0 });
    this.client.on('state', (change) => {
      if (change.state === 'connecting') this.#attempts.push({ start: Date.now(), end: null });
      if (change.state === 'connected') {
        const attempt = this.#attempts.at(-1);
        if (attempt) attempt.end = Date.now();
      }
      if (change.state === 'disconnected' && change.previous === 'connected') this.lostAt = Date.now();
    });
    this.client.on('resumed', (frame) => {
      this.resumed.push({ ...frame, at: Date.now() });
      if (frame.stream === 'user') this.resumedAt = Date.now();
    });
    this.client.connect();
  }

  resumedAfter(t) {
    return this.resumed.some((frame) => frame.stream === 'user' && frame.at >= t);
  }

  handshakesAfter(t) {
    return this.#attempts.filter((a) => a.start >= t && a.end !== null).map((a) => a.end - a.start);
  }

  #raw(frame) {
    if (frame.bench !== 'storm' || typeof frame.seq !== 'number') return;
    if (this.seqs.has(frame.seq)) this.duplicates++;
    else if (frame.seq < this.lastSeq) this.outOfOrder++;
    this.seqs.add(frame.seq);
    this.lastSeq = Math.max(this.lastSeq, frame.seq);
  }
}

/** Pushes numbered per user through nginx, each posted once (never retried); 200 counts as acknowledged. */
class Pusher {
  #acknowledged = new Map();
  #running = false;
  #loops = [];
  #agent = createAgent(16);
  #seqs = new Map();

  constructor(url, users) {
    this.url = url;
    this.users = users;
  }

  get acknowledgedCount() {
    return [...this.#acknowledged.values()].reduce((sum, list) => sum + list.length, 0);
  }

  acknowledgedFor(userId) {
    return this.#acknowledged.get(userId) ?? [];
  }

  start() {
    this.#running = true;
    // Each loop owns a quarter of the users, so one user's pushes are never in flight together.
    this.#loops = Array.from({ length: 4 }, (_, k) => this.#loop(k));
  }

  async stop() {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  async #loop(k) {
    const own = Array.from({ length: this.users }, (_, i) => i).filter((i) => i % 4 === k);
    while (this.#running && own.length > 0) {
      const userId = `storm-${own[Math.floor(Math.random() * own.length)]}`;
      const seq = this.#seqs.get(userId) ?? 0;
      this.#seqs.set(userId, seq + 1);
      const res = await postJson(`${this.url}/users/${userId}/messages`, payload('storm', seq), { agent: this.#agent, headers: AUTH_HEADERS, timeoutMs: 10_000 }).catch(() => null);
      if (res?.status === 200) this.#acknowledged.set(userId, [...this.acknowledgedFor(userId), seq]);
      await sleep(10);
    }
  }
}
