// Run parameters: command-line flags, then BENCH_* variables, then defaults (the smoke
// run has its own tiny ones).
import { join } from 'node:path';
import { ROOT, SERVERS } from './servers.js';

export const SCENARIOS = ['fanout', 'confirm', 'push'];

/** What --cluster runs: the scenarios and servers that have a cluster variant. */
export const CLUSTER_SCENARIOS = ['fanout', 'confirm'];
export const CLUSTER_SERVERS = ['gateway', 'socketio', 'socketio-express'];
/** What --storm runs: the gateway, and Socket.IO on redis-adapter through the same kill. */
export const STORM_SERVERS = ['gateway', 'socketio'];

const USAGE = `usage: node bench/run.js [--smoke] [--profile] [--cluster] [--scenarios=fanout,confirm,push] [--servers=gateway,nest-floor,raw-ws,socketio,socketio-express]
       node bench/run.js --soak [--minutes N] [--smoke]
       node bench/run.js --storm [--smoke] [--servers=gateway,socketio]
  --smoke     tiny parameters, under a minute, for CI (no thresholds)
  --profile   CPU-profile each server during each scenario run (fan-out unless --scenarios says otherwise; no report written)
  --cluster   each server as BENCH_INSTANCES instances on one fresh redis-server (gateway and the Socket.IO ones; fanout and confirm)
  --soak      three gateway instances on one Redis under mixed load for --minutes (default 30, 1.5 with --smoke);
              exits 1 when RSS, heap or Redis memory grew more than 5 % (bench/results/soak.md)
  --storm     BENCH_CLIENTS JS SDK clients (default 3000, 300 with --smoke) through nginx on three instances;
              one instance killed; exits 1 when a frame is lost (bench/results/storm.md); BENCH_MAX_HANDSHAKES (200);
              --servers=socketio runs socket.io-client clients against Socket.IO + redis-adapter the same way (storm-socketio.md)
  env: BENCH_CLIENTS BENCH_ROUNDS BENCH_CONFIRM_USERS BENCH_SECONDS BENCH_PUSH_USERS BENCH_PUSH_CONCURRENCY
       BENCH_WORKERS BENCH_CLIENTS_PER_ADDRESS BENCH_CONNECT_CONCURRENCY BENCH_DEADLINE_SECONDS BENCH_INSTANCES
       BENCH_GATEWAY_DIST (another build's dist/ to run as the gateway)
       BENCH_NODE (path of the Node binary every server and load generator runs on)`;

export function loadConfig(argv = process.argv.slice(2), env = process.env) {
  const flags = parseFlags(joinSpacedValues(argv));
  const smoke = flags.smoke === true;
  const profile = flags.profile === true;
  const cluster = flags.cluster === true;
  const scenarioChoice = cluster ? CLUSTER_SCENARIOS : SCENARIOS;
  const storm = flags.storm === true;
  const serverChoice = storm ? STORM_SERVERS : cluster ? CLUSTER_SERVERS : Object.keys(SERVERS);
  const number = (name, normal, small) => {
    const value = env[name] === undefined || env[name] === '' ? (smoke ? small : normal) : Number(env[name]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
    return value;
  };
  const seconds = number('BENCH_SECONDS', 20, 3);
  return {
    smoke,
    profile,
    soak: flags.soak === true,
    storm,
    stormClients: Math.floor(number('BENCH_CLIENTS', 3000, 300)),
    stormMaxHandshakes: Math.floor(number('BENCH_MAX_HANDSHAKES', 200, 200)),
    soakMinutes: flags.minutes === undefined ? (smoke ? 1.5 : 30) : positive('--minutes', Number(flags.minutes)),
    cluster,
    instances: cluster ? Math.floor(number('BENCH_INSTANCES', 3, 3)) : 1,
    scenarios: list(flags.scenarios, profile ? ['fanout'] : scenarioChoice, scenarioChoice),
    servers: list(flags.servers, storm ? ['gateway'] : serverChoice, serverChoice),
    clients: Math.floor(number('BENCH_CLIENTS', 5000, 200)),
    rounds: Math.floor(number('BENCH_ROUNDS', 30, 3)),
    warmupRounds: smoke ? 1 : 3,
    roundPauseMs: smoke ? 20 : 100,
    roundTimeoutMs: 15_000,
    confirmUsers: Math.floor(number('BENCH_CONFIRM_USERS', 200, 20)),
    pushUsers: Math.floor(number('BENCH_PUSH_USERS', 1000, 50)),
    pushConcurrency: Math.floor(number('BENCH_PUSH_CONCURRENCY', 64, 16)),
    durationMs: seconds * 1000,
    warmupMs: smoke ? 500 : 2000,
    workers: env.BENCH_WORKERS ? Math.floor(number('BENCH_WORKERS', 1, 1)) : undefined,
    clientsPerAddress: Math.floor(number('BENCH_CLIENTS_PER_ADDRESS', 20000, 20000)),
    connectConcurrency: Math.floor(number('BENCH_CONNECT_CONCURRENCY', 200, 50)),
    connectTimeoutMs: 300_000,
    deadlineSeconds: number('BENCH_DEADLINE_SECONDS', 1800, 55),
    resultsDir: join(ROOT, 'bench', 'results'),
    logDir: join(ROOT, 'bench', 'results', 'logs'),
  };
}

function parseFlags(argv) {
  const flags = {};
  for (const arg of argv) {
    const match = arg.match(/^--([a-z-]+)(?:=(.*))?$/);
    if (!match || !['smoke', 'profile', 'cluster', 'scenarios', 'servers', 'soak', 'minutes', 'storm', 'help'].includes(match[1])) {
      throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
    flags[match[1]] = match[2] ?? true;
  }
  if (flags.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return flags;
}

/** `--minutes 10` as `--minutes=10`. */
function joinSpacedValues(argv) {
  const joined = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--minutes' && argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) joined.push(`--minutes=${argv[++i]}`);
    else joined.push(argv[i]);
  }
  return joined;
}

function positive(name, value) {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

function list(value, fallback, allowed) {
  if (value === undefined || value === true) return fallback;
  const items = value.split(',').filter(Boolean);
  const unknown = items.filter((item) => !allowed.includes(item));
  if (unknown.length > 0) throw new Error(`unknown ${unknown.join(', ')}; choose from ${allowed.join(', ')}`);
  return items;
}
