// The reconnect storm (`npm run bench -- --storm`, issue 23): three gateway instances behind
// deploy/nginx/gateway.conf's nginx on one Redis, BENCH_CLIENTS clients on the JS SDK itself
// (clients/js/dist: its back-off, jitter and resume, unchanged) in load processes of their own
// (bench/load/storm-clients.js), a push to some user every few milliseconds; with
// `--servers=socketio` the same with Socket.IO on redis-adapter and socket.io-client. One
// instance is killed with SIGKILL; its clients reconnect through nginx to the others.
// Reported: time until every orphan is connected and resumed, handshakes per second,
// handshake p50/p99, peak RSS per instance, Redis CPU, and frames lost (must be 0).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster } from '../lib/cluster.js';
import { createAgent, postJson } from '../lib/http.js';
import { payload } from '../lib/payload.js';
import { startNginx } from '../lib/nginx.js';
import { AUTH_HEADERS } from '../lib/servers.js';
import { percentile, sleep } from '../lib/stats.js';
import { LoadWorker } from '../lib/workers.js';
import { cpuSeconds } from '../lib/proc.js';

const CLIENT_SCRIPT = fileURLToPath(new URL('../load/storm-clients.js', import.meta.url));
/** Clients per load process: well inside one process's open-file limit and one source address's ports. */
const CLIENTS_PER_PROCESS = 5_000;
/** Connections per nginx worker (each client is two: its own and the upstream one). */
const NGINX_WORKER_CONNECTIONS = 16_000;

/**
 * The storm against the gateway (`server` 'gateway': its JS SDK clients, resume and
 * WEBSOCKET_MAX_CONCURRENT_HANDSHAKES) or against Socket.IO on @socket.io/redis-adapter
 * ('socketio': socket.io-client's own reconnection), the same topology and kill for both.
 */
export async function runStorm(cfg, log, server = 'gateway') {
  const clients = cfg.stormClients;
  const env = {
    WEBSOCKET_MAX_CONNECTIONS: String(clients + 1000),
    WEBSOCKET_MAX_CONCURRENT_HANDSHAKES: String(cfg.stormMaxHandshakes),
    // The production default (the other benchmarks lift it): a storm is what it guards against.
    HTTP_MAX_PENDING_CONNECTIONS: '256',
    // Each user has one client; the storm is about reconnecting, not about frame limits.
    WEBSOCKET_RATE_LIMIT: '1000',
    WEBSOCKET_RATE_BURST: '1000',
  };
  const kind = server === 'socketio' ? 'socketio' : 'sdk';
  log(`storm: ${clients} ${kind === 'sdk' ? 'JS SDK' : 'socket.io-client'} clients through nginx on three ${server} instances${kind === 'sdk' ? `, WEBSOCKET_MAX_CONCURRENT_HANDSHAKES=${cfg.stormMaxHandshakes}` : ''}`);
  const cluster = await startCluster(server, { logDir: cfg.logDir, tag: 'storm', size: 3, env });
  const nginxWorkers = Math.max(1, Math.ceil((clients * 2 + 1000) / (NGINX_WORKER_CONNECTIONS - 2000)));
  const nginx = await startNginx(cluster.instances.map((instance) => Number(new URL(instance.baseUrl).port)), { workerConnections: NGINX_WORKER_CONNECTIONS, workers: nginxWorkers });
  const processes = Array.from({ length: Math.ceil(clients / CLIENTS_PER_PROCESS) }, (_, k) => new LoadWorker(`storm-clients${k}`, CLIENT_SCRIPT));
  const pusher = new Pusher(nginx.url, clients);
  const rssPeak = cluster.instances.map(() => 0);
  const sampler = setInterval(() => cluster.instances.forEach((instance, i) => {
    const rss = instance.alive() ? instance.rss() : NaN;
    if (Number.isFinite(rss)) rssPeak[i] = Math.max(rssPeak[i], rss);
  }), 200);
  try {
    const share = Math.ceil(clients / processes.length);
    await Promise.all(processes.map((clientsProcess, k) => {
      const ids = Array.from({ length: Math.min(share, clients - k * share) }, (_, i) => `storm-${k * share + i}`);
      // Each process from its own loopback address: 30,000 sockets to one port would use up
      // one address's ephemeral ports.
      return clientsProcess.call('open', { kind, url: nginx.url, ids, localAddress: `127.0.0.${2 + k}`, timeoutMs: 120_000 }, 600_000);
    }));
    log(`storm: ${clients} connected (${processes.length} client processes, ${nginxWorkers} nginx workers); pushes flowing`);
    pusher.start();
    await sleep(3_000);

    const cpu = new CpuWatch({
      survivors: () => cluster.instances.slice(1).map((instance) => instance.pid),
      nginx: () => nginx.pids(),
      clients: () => processes.map((clientsProcess) => clientsProcess.pid),
      redis: () => [cluster.redis.pid],
    });
    const killedAt = Date.now();
    const load = os.loadavg()[0];
    cluster.instances[0].child.kill('SIGKILL');
    log(`storm: killed instance 1 (pid ${cluster.instances[0].pid})`);
    await sleep(1_000);
    const progress = async () => (await Promise.all(processes.map((clientsProcess) => clientsProcess.call('progress', { since: killedAt }, 30_000)))).reduce((sum, p) => ({ orphans: sum.orphans + p.orphans, back: sum.back + p.back }), { orphans: 0, back: 0 });
    const deadline = Date.now() + 180_000;
    for (let p = await progress(); p.back < p.orphans; p = await progress()) {
      if (Date.now() > deadline) throw new Error(`timed out after 180 s waiting for orphans to come back: ${p.back} of ${p.orphans}`);
      await sleep(200);
    }
    const cpuDuringStorm = cpu.read();
    await sleep(2_000);
    await pusher.stop();
    // Acknowledged pushes still on their way arrive before the count.
    await sleep(2_000);
    const acknowledged = pusher.acknowledged();
    const parts = await Promise.all(processes.map((clientsProcess) => clientsProcess.call('report', { since: killedAt, acknowledged }, 60_000)));
    const sum = (key) => parts.reduce((total, part) => total + part[key], 0);
    const orphans = sum('orphans');
    const backAt = Math.max(...parts.map((part) => part.lastBackAt));
    const stormSeconds = (backAt - killedAt) / 1000;
    const handshakes = parts.flatMap((part) => part.handshakesMs);
    const backAfter = parts.flatMap((part) => part.backAfterMs);
    const result = {
      date: new Date().toISOString(),
      server,
      clients,
      clientProcesses: processes.length,
      nginxWorkers,
      maxConcurrentHandshakes: kind === 'sdk' ? cfg.stormMaxHandshakes : null,
      orphans,
      secondsUntilAllBack: +stormSeconds.toFixed(2),
      handshakesPerSecond: +(orphans / stormSeconds).toFixed(0),
      handshakeP50Ms: percentile(handshakes, 50),
      handshakeP99Ms: percentile(handshakes, 99),
      backWithinMs: Object.fromEntries([50, 90, 99].map((p) => [`p${p}`, percentile(backAfter, p)])),
      cpuSecondsDuringStorm: cpuDuringStorm,
      refusedWith1013: sum('refusedWith1013'),
      peakRssMiB: rssPeak.map((rss) => +(rss / 2 ** 20).toFixed(1)),
      redisCpuSeconds: cpuDuringStorm.redis,
      redisCpuPercentDuringStorm: +((cpuDuringStorm.redis / stormSeconds) * 100).toFixed(0),
      pushesAcknowledged: pusher.acknowledgedCount,
      framesLost: sum('lost'),
      framesLostByOrphans: sum('lostByOrphans'),
      framesDuplicated: sum('duplicated'),
      framesOutOfOrder: sum('outOfOrder'),
      resumedNotRecovered: sum('notRecovered'),
      loadAverageAtKill: +load.toFixed(2),
      cpus: os.cpus().length,
    };
    const name = `${server === 'gateway' ? 'storm' : `storm-${server}`}${cfg.smoke ? '-smoke' : ''}`;
    writeFileSync(join(cfg.resultsDir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(cfg.resultsDir, `${name}.md`), report(result));
    process.stdout.write(`\n${report(result)}`);
    // Socket.IO keeps nothing for a disconnected client: its losses are the comparison, not a failure.
    if (server !== 'gateway') return true;
    const { framesLost: lost, framesDuplicated: duplicated, framesOutOfOrder: outOfOrder, resumedNotRecovered: notRecovered } = result;
    const failures = [lost && `${lost} frames lost`, duplicated && `${duplicated} duplicated`, outOfOrder && `${outOfOrder} out of order`, notRecovered && `${notRecovered} resumes not recovered`].filter(Boolean);
    if (failures.length) log(`storm: FAILED: ${failures.join(', ')}`);
    return failures.length === 0;
  } finally {
    clearInterval(sampler);
    await pusher.stop();
    await Promise.all(processes.map((clientsProcess) => clientsProcess.stop()));
    await nginx.stop();
    await cluster.stop();
  }
}

function report(r) {
  const gateway = r.server === 'gateway';
  const who = gateway ? 'JS SDK clients, three gateway instances' : 'socket.io-client clients, three Socket.IO + redis-adapter instances';
  return [
    `# Reconnect storm: ${r.clients} ${who}, one killed (${r.date.slice(0, 16).replace('T', ' ')} UTC)`,
    '',
    '| figure | value |',
    '|---|---|',
    `| orphaned clients (their instance was killed with SIGKILL) | ${r.orphans} |`,
    `| time until every orphan is connected${gateway ? ' and resumed' : ' again'} | ${r.secondsUntilAllBack} s |`,
    `| orphans back within (p50 / p90 / p99) | ${r.backWithinMs.p50} / ${r.backWithinMs.p90} / ${r.backWithinMs.p99} ms |`,
    `| handshakes per second (orphans ÷ that time) | ${r.handshakesPerSecond} |`,
    `| handshake p50 / p99 (connecting → connected, the attempt that succeeded) | ${r.handshakeP50Ms} / ${r.handshakeP99Ms} ms |`,
    ...(gateway ? [`| closes with 1013 (WEBSOCKET_MAX_CONCURRENT_HANDSHAKES=${r.maxConcurrentHandshakes}) | ${r.refusedWith1013} |`] : []),
    `| peak RSS per instance | ${r.peakRssMiB.join(' / ')} MiB |`,
    `| Redis CPU during the storm | ${r.redisCpuSeconds} s (${r.redisCpuPercentDuringStorm} % of one core) |`,
    `| pushes acknowledged (HTTP 200); frames lost (of them, to orphans) / duplicated / out of order | ${r.pushesAcknowledged}; ${r.framesLost} (${r.framesLostByOrphans}) / ${r.framesDuplicated} / ${r.framesOutOfOrder} |`,
    ...(gateway ? [`| resumes after the kill with recovered: false | ${r.resumedNotRecovered} |`] : []),
    `| CPU from the kill until all were back: survivors / nginx / client processes / Redis | ${Object.values(r.cpuSecondsDuringStorm).join(' / ')} s (of ${(r.cpus * r.secondsUntilAllBack).toFixed(0)} s on ${r.cpus} cores) |`,
    `| client processes; nginx workers | ${r.clientProcesses}; ${r.nginxWorkers} |`,
    `| load average (1 min) at the kill, cores | ${r.loadAverageAtKill}, ${r.cpus} |`,
    '',
  ].join('\n');
}

/** CPU seconds used by groups of processes since it was made (a process that is gone counts what it had). */
class CpuWatch {
  #groups;
  #start;

  constructor(groups) {
    this.#groups = groups;
    this.#start = this.#sample();
  }

  read() {
    const now = this.#sample();
    return Object.fromEntries(Object.keys(this.#groups).map((name) => {
      let used = 0;
      for (const [pid, seconds] of now[name]) used += seconds - (this.#start[name].get(pid) ?? 0);
      return [name, +used.toFixed(2)];
    }));
  }

  #sample() {
    return Object.fromEntries(Object.entries(this.#groups).map(([name, pids]) => [name, new Map(pids().map((pid) => [pid, safeCpuSeconds(pid)]))]));
  }
}

function safeCpuSeconds(pid) {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
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

  /** Every user's acknowledged seqs (sent to the client processes, which check them). */
  acknowledged() {
    return this.#acknowledged;
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
