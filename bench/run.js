// Benchmark driver: runs each scenario against the gateway, a raw `ws` server and a
// Socket.IO server in turn, each server and each load generator in its own process,
// and writes bench/results/latest.{md,json}. With --cluster, each server is three
// instances on one redis-server (cluster-*.{md,json}). See bench/README.md.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installExitHandlers, killAll, track } from './lib/children.js';
import { startCluster } from './lib/cluster.js';
import { CLUSTER_SCENARIOS, CLUSTER_SERVERS, loadConfig, SCENARIOS as SCENARIO_NAMES } from './lib/config.js';
import { openFilesLimit } from './lib/proc.js';
import { costSummary, markdownReport } from './lib/report.js';
import { ROOT, SERVERS, startServer } from './lib/servers.js';
import { startWorkers, stopWorkers } from './lib/workers.js';
import { runConfirm } from './scenarios/confirm.js';
import { runConnectionsAndFanout } from './scenarios/fanout.js';
import { runPush } from './scenarios/push.js';
import { runSoak } from './scenarios/soak.js';
import { runStorm } from './scenarios/storm.js';

/** What each scenario runs and which result rows it fills. */
const SCENARIOS = {
  fanout: { run: runConnectionsAndFanout, fills: ['connections', 'fanout'] },
  confirm: { run: runConfirm, fills: ['confirm'] },
  push: { run: runPush, fills: ['push'] },
};

/** File descriptors a process needs besides its sockets (modules, logs, pipes, epoll). */
const FD_HEADROOM = 256;

async function main() {
  installExitHandlers();
  if (reexecOnRequestedNode()) return;
  const cfg = loadConfig();
  if (reexecWithHigherFileLimit(cfg)) return;
  // A soak and a storm size their own processes (a storm spreads its clients over several).
  const fileLimit = cfg.soak || cfg.storm ? openFilesLimit().soft : fitToFileLimit(cfg);
  // A soak runs as long as asked, plus starting and stopping.
  if (cfg.soak && !process.env.BENCH_DEADLINE_SECONDS) cfg.deadlineSeconds = Math.max(cfg.deadlineSeconds, cfg.soakMinutes * 60 + 300);
  const deadline = setTimeout(() => abort(`deadline of ${cfg.deadlineSeconds} s passed`), cfg.deadlineSeconds * 1000);
  deadline.unref();
  mkdirSync(cfg.resultsDir, { recursive: true });
  if (cfg.soak || cfg.storm) {
    let passed = true;
    if (cfg.soak) passed = await runSoak(cfg, log);
    else for (const server of cfg.servers) passed = (await runStorm(cfg, log, server)) && passed;
    killAll();
    process.exit(passed ? 0 : 1);
  }

  const results = {};
  for (const scenario of cfg.scenarios) {
    for (const server of cfg.servers) {
      const outcome = await runSession(scenario, server, cfg);
      for (const [row, result] of Object.entries(outcome)) (results[row] ??= {})[server] = result;
    }
  }

  const run = { cfg, environment: environment(fileLimit, cfg), results, costs: costSummary(results, cfg.servers) };
  const markdown = markdownReport(run);
  process.stdout.write(`\n${markdown}`);
  if (!cfg.profile) saveReports(run, markdown, cfg);
  const failures = Object.values(results).flatMap((byServer) => Object.values(byServer)).filter((r) => r.error);
  process.exitCode = failures.length > 0 ? 1 : 0;
  killAll();
}

/** One scenario against one server: a fresh server and fresh load generators. */
async function runSession(scenario, name, cfg) {
  const { run, fills } = SCENARIOS[scenario];
  const tag = `${name} / ${scenario}`;
  let server;
  let workers = [];
  try {
    if (cfg.cluster) {
      log(`${tag}: starting redis-server and ${cfg.instances} × ${SERVERS[name].script}`);
      server = await startCluster(name, { logDir: cfg.logDir, tag: `cluster-${scenario}`, size: cfg.instances });
    } else {
      log(`${tag}: starting ${SERVERS[name].script}`);
      server = await startServer(name, { logDir: cfg.logDir, tag: scenario });
    }
    workers = startWorkers(scenario === 'fanout' ? fanoutWorkerCount(cfg) : 1, `${name}-${scenario}`);
    const outcome = await run({ server, workers, cfg });
    if (!server.alive()) throw new Error(`server exited during the run\n${server.logTail()}`);
    await noteDroppedClients(workers, outcome);
    for (const [row, result] of Object.entries(outcome)) log(`${tag}: ${row} ${brief(result)}`);
    return outcome;
  } catch (err) {
    log(`${tag}: FAILED: ${err.message}`);
    if (server && !server.alive()) log(server.logTail());
    return Object.fromEntries(fills.map((row) => [row, { error: err.message }]));
  } finally {
    await stopWorkers(workers);
    await server?.stop();
  }
}

/** A client the server closed mid-scenario (keepalive reaping, slow-consumer limit…) makes its figures suspect. */
async function noteDroppedClients(workers, outcome) {
  const counters = await Promise.all(workers.map((w) => w.call('counters', {}, 5_000)));
  const dropped = counters.reduce((total, c) => total + c.unexpectedCloses, 0);
  if (dropped === 0) return;
  for (const result of Object.values(outcome)) {
    result.unexpectedCloses = dropped;
    result.error = [result.error, `the server closed ${dropped} clients during the scenario`].filter(Boolean).join('; ');
  }
}

function fanoutWorkerCount(cfg) {
  if (cfg.workers) return cfg.workers;
  const perWorker = Math.min(10_000, openFilesLimit().soft - FD_HEADROOM);
  return Math.max(1, Math.ceil(cfg.clients / perWorker));
}

/** The most clients one server process holds: all of them, or a cluster instance's share. */
const clientsPerServer = (cfg) => Math.ceil(cfg.clients / cfg.instances);

/**
 * BENCH_NODE names the Node binary to measure on. The driver re-runs itself under it, so
 * every server and every load generator (all spawned from process.execPath) runs on that
 * one runtime in the same run. Returns true when the re-run took over.
 */
function reexecOnRequestedNode() {
  const wanted = process.env.BENCH_NODE;
  if (!wanted) return false;
  if (!existsSync(wanted)) throw new Error(`BENCH_NODE=${wanted} does not exist`);
  if (realpathSync(wanted) === realpathSync(process.execPath)) return false;
  log(`re-running under BENCH_NODE=${wanted}`);
  const child = track(spawn(wanted, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' }));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return true;
}

/**
 * Node cannot raise its own open-files limit, so when it is too low for the clients
 * the driver re-runs itself under `ulimit -n` once (servers and load generators
 * inherit the limit). Returns true when the re-run took over.
 */
function reexecWithHigherFileLimit(cfg) {
  const needed = clientsPerServer(cfg) + FD_HEADROOM;
  const { soft, hard } = openFilesLimit();
  if (soft >= needed || process.env.BENCH_FD_LIMIT_TRIED) return false;
  if (soft >= hard && process.getuid?.() !== 0) return false;
  const target = Math.max(needed, 65536);
  const fallback = hard === Infinity ? 'unlimited' : hard;
  const script = `ulimit -n ${target} 2>/dev/null || ulimit -n ${fallback} 2>/dev/null; exec "$0" "$@"`;
  log(`open files limit ${soft} < ${needed}: re-running under ulimit -n ${target}`);
  const child = track(
    spawn('bash', ['-c', script, process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_FD_LIMIT_TRIED: '1' },
    }),
  );
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return true;
}

/**
 * Each server holds every client socket, so the limit caps the client count. Lowers
 * cfg.clients to what fits, loudly, and returns the limit for the report.
 */
function fitToFileLimit(cfg) {
  const { soft } = openFilesLimit();
  const fits = (soft - FD_HEADROOM) * cfg.instances;
  if (cfg.clients > fits) {
    log(`WARNING: open files limit is ${soft} and cannot be raised here: BENCH_CLIENTS lowered from ${cfg.clients} to ${fits}`);
    cfg.requestedClients = cfg.clients;
    cfg.clients = fits;
  }
  for (const key of ['pushUsers', 'confirmUsers']) cfg[key] = Math.min(cfg[key], soft - FD_HEADROOM);
  return soft;
}

function environment(openFiles, cfg) {
  return {
    date: new Date().toISOString(),
    commit: git(['describe', '--always', '--dirty']),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    openFiles,
    ...(cfg.cluster && { redis: redisVersion() }),
  };
}

function redisVersion() {
  try {
    return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function git(args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Only a full default run replaces the committed latest.md (cluster-latest.md for
 * --cluster); smoke and partial runs keep their own files.
 */
function saveReports(run, markdown, cfg) {
  const [scenarios, servers] = cfg.cluster ? [CLUSTER_SCENARIOS, CLUSTER_SERVERS] : [SCENARIO_NAMES, Object.keys(SERVERS)];
  const full = cfg.scenarios.length === scenarios.length && cfg.servers.length === servers.length;
  const name = `${cfg.cluster ? 'cluster-' : ''}${cfg.smoke ? 'smoke' : full ? 'latest' : 'partial'}`;
  writeFileSync(join(cfg.resultsDir, `${name}.md`), markdown);
  writeFileSync(join(cfg.resultsDir, `${name}.json`), `${JSON.stringify(run, null, 2)}\n`);
  log(`wrote bench/results/${name}.md and ${name}.json`);
}

function brief(result) {
  if (result.error && Object.keys(result).length === 1) return `FAILED: ${result.error}`;
  const shown = ['opened', 'connectsPerSecond', 'rssPerConnection', 'p50', 'p99', 'perSecond', 'cpuPerDeliveryUs', 'cpuPerRoundTripUs', 'redisCommandUsecPerRoundTrip', 'redisScriptUsecPerRoundTrip', 'redisCommandsPerRoundTrip', 'redisCommandsPerBroadcast', 'serverCores', 'loadCores'];
  const parts = shown.filter((k) => typeof result[k] === 'number').map((k) => `${k}=${+result[k].toFixed(2)}`);
  return parts.join(' ') + (result.error ? ` PROBLEM: ${result.error}` : '');
}

function log(message) {
  console.error(`bench: ${message}`);
}

function abort(reason) {
  log(`ABORTED: ${reason}`);
  killAll();
  process.exit(1);
}

main().catch((err) => {
  log(`FAILED: ${err.stack ?? err.message}`);
  killAll();
  process.exit(1);
});
