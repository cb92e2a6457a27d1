// Connections and fan-out share one server session: the clients opened (and weighed)
// for the connection figures are the ones the broadcasts then reach.
import { createAgent, postJson } from '../lib/http.js';
import { payload } from '../lib/payload.js';
import { AUTH_HEADERS } from '../lib/servers.js';
import { now, percentile, sleep } from '../lib/stats.js';
import { connectClients } from './connect.js';
import { profiled } from './profile.js';
import { costBetween, costMark, perOperation } from './window.js';

export async function runConnectionsAndFanout({ server, workers, cfg }) {
  const connections = await measureConnections(server, workers, cfg);
  const fanout = await measureFanout(server, workers, cfg, connections.opened);
  return { connections, fanout };
}

async function measureConnections(server, workers, cfg) {
  const before = await server.memory();
  const cpuBefore = server.cpuSeconds();
  const opened = await connectClients(workers, server, { prefix: 'fan', count: cfg.clients, cfg });
  const cpu = server.cpuSeconds() - cpuBefore;
  if (opened.opened === 0) throw new Error(`no connection opened: ${opened.firstError}`);
  await sleep(500); // let the last handshakes' garbage become garbage
  const after = await server.memory();
  const result = {
    clients: cfg.clients,
    opened: opened.opened,
    failed: opened.failed,
    perWorker: opened.perWorker,
    connectMs: opened.ms,
    connectsPerSecond: opened.opened / (opened.ms / 1000),
    cpuSeconds: cpu,
    cpuPerConnectionUs: (cpu / opened.opened) * 1e6,
    rssPerConnection: (after.rss - before.rss) / opened.opened,
    heapPerConnection: (after.heapUsed - before.heapUsed) / opened.opened,
    heapAfterGc: before.afterGc && after.afterGc,
    memoryBefore: before,
    memoryAfter: after,
  };
  if (before.redisRss !== undefined) {
    // A cluster: rssPerConnection above is instances + Redis; here the two apart.
    result.instancesRssPerConnection = (after.instancesRss - before.instancesRss) / opened.opened;
    result.redisRssPerConnection = (after.redisRss - before.redisRss) / opened.opened;
  }
  if (opened.failed > 0) result.error = `${opened.failed} of ${cfg.clients} connections failed, first: ${opened.firstError}`;
  return result;
}

async function measureFanout(server, workers, cfg, clients) {
  const agent = createAgent(1);
  const rounds = [];
  try {
    for (let seq = 0; seq < cfg.warmupRounds; seq++) await broadcastRound(server, workers, agent, seq, cfg);
    return await profiled(server, cfg, 'fanout', async () => {
      const start = costMark(server);
      for (let i = 0; i < cfg.rounds; i++) {
        rounds.push(await broadcastRound(server, workers, agent, cfg.warmupRounds + i, cfg));
        await sleep(cfg.roundPauseMs);
      }
      return summarizeRounds(rounds, clients, await costBetween(start, costMark(server)));
    });
  } finally {
    agent.destroy();
  }
}

function summarizeRounds(rounds, clients, cost) {
  const latencies = rounds.filter((r) => r.complete).map((r) => r.latencyMs);
  const delivered = rounds.reduce((total, r) => total + r.received, 0);
  const result = {
    clients,
    rounds: rounds.length,
    completeRounds: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    // The servers answer once they have handed the frame to every socket.
    answeredP50: percentile(rounds.map((r) => r.answeredMs), 50),
    delivered,
    cpuSeconds: cost.serverCpuSeconds,
    ...perOperation(cost, delivered, 'Delivery'),
    serverCores: cost.serverCores,
    latencies,
  };
  if (cost.redisCommands !== undefined) {
    result.instancesCpuSeconds = cost.instancesCpuSeconds;
    result.redisCpuSeconds = cost.redisCpuSeconds;
    result.redisCommandsPerBroadcast = cost.redisCommands / rounds.length;
    result.redisCommandsByName = cost.redisCommandsByName;
  }
  if (rounds.some((r) => r.received === 0)) throw new Error('a broadcast reached no client');
  const incomplete = rounds.filter((r) => !r.complete);
  if (incomplete.length > 0) {
    result.error = `${incomplete.length} rounds incomplete (e.g. ${incomplete[0].received}/${clients} received)`;
  }
  return result;
}

/** One POST /broadcast; the latency is until the last client of every worker had it. */
async function broadcastRound(server, workers, agent, seq, cfg) {
  const arrivals = waitForArrivals(workers, seq, cfg.roundTimeoutMs);
  const started = now();
  const res = await postJson(`${server.baseUrl}/broadcast`, payload('fanout', seq), { agent, headers: AUTH_HEADERS });
  const answeredMs = now() - started;
  if (res.status !== 200) throw new Error(`POST /broadcast answered ${res.status}: ${JSON.stringify(res.body)}`);
  const reports = await arrivals;
  return {
    seq,
    complete: reports.every((r) => r.complete),
    received: reports.reduce((total, r) => total + r.count, 0),
    reportedDelivered: res.body.delivered,
    answeredMs,
    latencyMs: Math.max(...reports.map((r) => r.lastAt)) - started,
  };
}

/** Each worker reports once all its clients have round `seq`; after timeoutMs, asks how far they got. */
function waitForArrivals(workers, seq, timeoutMs) {
  return new Promise((resolve) => {
    const reports = new Map();
    const unsubscribes = workers.map((worker) =>
      worker.onEvent((event) => {
        if (event.event !== 'round' || event.seq !== seq) return;
        reports.set(worker, { ...event, complete: true });
        if (reports.size === workers.length) finish();
      }),
    );
    const timer = setTimeout(async () => {
      for (const worker of workers) {
        if (reports.has(worker)) continue;
        const status = await worker.call('roundStatus', { seq }, 5_000).catch(() => ({ count: 0 }));
        reports.set(worker, { count: status.count, lastAt: status.lastAt ?? NaN, complete: false });
      }
      finish();
    }, timeoutMs);
    function finish() {
      clearTimeout(timer);
      unsubscribes.forEach((unsubscribe) => unsubscribe());
      resolve([...reports.values()]);
    }
  });
}
