// The run's results as one markdown table (scenario metric x server, with ratios).
import { SERVERS } from './servers.js';

const KIB = 1 / 1024;

const METRICS = [
  { scenario: 'connections', key: 'connectsPerSecond', label: 'connect rate', unit: 'conn/s', better: 'higher', digits: 0 },
  { scenario: 'connections', key: 'rssPerConnection', label: 'RSS per connection', unit: 'KiB', scale: KIB, better: 'lower', digits: 1 },
  { scenario: 'connections', key: 'heapPerConnection', label: 'JS heap per connection', unit: 'KiB', scale: KIB, better: 'lower', digits: 1 },
  { scenario: 'connections', key: 'cpuPerConnectionUs', label: 'server CPU per connect', unit: 'µs', better: 'lower', digits: 0 },
  { scenario: 'fanout', key: 'p50', label: 'broadcast to all, p50', unit: 'ms', better: 'lower', digits: 1 },
  { scenario: 'fanout', key: 'p99', label: 'broadcast to all, p99', unit: 'ms', better: 'lower', digits: 1 },
  { scenario: 'fanout', key: 'answeredP50', label: 'POST /broadcast answered, p50', unit: 'ms', better: 'lower', digits: 1 },
  { scenario: 'fanout', key: 'cpuPerDeliveryUs', label: 'server CPU per delivered msg', unit: 'µs', better: 'lower', digits: 2 },
  { scenario: 'confirm', key: 'perSecond', label: 'round trips', unit: '/s', better: 'higher', digits: 0 },
  { scenario: 'confirm', key: 'p50', label: 'round trip p50', unit: 'ms', better: 'lower', digits: 1 },
  { scenario: 'confirm', key: 'p99', label: 'round trip p99', unit: 'ms', better: 'lower', digits: 1 },
  { scenario: 'confirm', key: 'cpuPerRoundTripUs', label: 'server CPU per round trip', unit: 'µs', better: 'lower', digits: 0 },
  { scenario: 'confirm', key: 'serverCores', label: 'server CPU busy', unit: 'cores', digits: 2 },
  { scenario: 'confirm', key: 'heapRetainedPerOp', label: 'JS heap kept per round trip (after GC)', unit: 'bytes', better: 'lower', digits: 0 },
  { scenario: 'push', key: 'perSecond', label: 'delivered', unit: 'msgs/s', better: 'higher', digits: 0 },
  { scenario: 'push', key: 'p99', label: 'POST p99', unit: 'ms', better: 'lower', digits: 1 },
  { scenario: 'push', key: 'cpuPerDeliveryUs', label: 'server CPU per delivered msg', unit: 'µs', better: 'lower', digits: 1 },
  { scenario: 'push', key: 'serverCores', label: 'server CPU busy', unit: 'cores', digits: 2 },
  { scenario: 'push', key: 'heapRetainedPerOp', label: 'JS heap kept per message (after GC)', unit: 'bytes', better: 'lower', digits: 0 },
];

/** --cluster: every CPU figure is all instances + Redis, then the two parts. */
const CLUSTER_METRICS = [
  { scenario: 'connections', key: 'opened', label: 'connected', unit: 'clients', digits: 0 },
  { scenario: 'connections', key: 'connectsPerSecond', label: 'connect rate', unit: 'conn/s', better: 'higher', digits: 0 },
  { scenario: 'connections', key: 'rssPerConnection', label: 'RSS per connection, instances + Redis', unit: 'KiB', scale: KIB, better: 'lower', digits: 1 },
  { scenario: 'connections', key: 'instancesRssPerConnection', label: 'RSS per connection, instances', unit: 'KiB', scale: KIB, better: 'lower', digits: 1 },
  { scenario: 'connections', key: 'redisRssPerConnection', label: 'RSS per connection, Redis', unit: 'KiB', scale: KIB, better: 'lower', digits: 2 },
  { scenario: 'connections', key: 'heapPerConnection', label: 'JS heap per connection', unit: 'KiB', scale: KIB, better: 'lower', digits: 1 },
  { scenario: 'connections', key: 'cpuPerConnectionUs', label: 'CPU per connect, instances + Redis', unit: 'µs', better: 'lower', digits: 0 },
  { scenario: 'fanout', key: 'p50', label: 'broadcast to all, p50', unit: 'ms', better: 'lower', digits: 1 },
  { scenario: 'fanout', key: 'p99', label: 'broadcast to all, p99', unit: 'ms', better: 'lower', digits: 1 },
  { scenario: 'fanout', key: 'cpuPerDeliveryUs', label: 'CPU per delivered msg, instances + Redis', unit: 'µs', better: 'lower', digits: 2 },
  { scenario: 'fanout', key: 'instancesCpuPerDeliveryUs', label: 'CPU per delivered msg, instances', unit: 'µs', better: 'lower', digits: 2 },
  { scenario: 'fanout', key: 'redisCpuPerDeliveryUs', label: 'CPU per delivered msg, Redis', unit: 'µs', better: 'lower', digits: 3 },
  { scenario: 'fanout', key: 'redisCommandsPerBroadcast', label: 'Redis commands per broadcast', unit: 'commands', better: 'lower', digits: 1 },
  { scenario: 'confirm', key: 'perSecond', label: 'round trips', unit: '/s', better: 'higher', digits: 0 },
  { scenario: 'confirm', key: 'p50', label: 'round trip p50', unit: 'ms', better: 'lower', digits: 1 },
  { scenario: 'confirm', key: 'p99', label: 'round trip p99', unit: 'ms', better: 'lower', digits: 1 },
  { scenario: 'confirm', key: 'cpuPerRoundTripUs', label: 'CPU per round trip, instances + Redis', unit: 'µs', better: 'lower', digits: 0 },
  { scenario: 'confirm', key: 'instancesCpuPerRoundTripUs', label: 'CPU per round trip, instances', unit: 'µs', better: 'lower', digits: 0 },
  { scenario: 'confirm', key: 'redisCpuPerRoundTripUs', label: 'CPU per round trip, Redis', unit: 'µs', better: 'lower', digits: 0 },
  { scenario: 'confirm', key: 'redisCommandUsecPerRoundTrip', label: 'Redis time in commands per round trip (INFO commandstats usec, scripts\' calls included)', unit: 'µs', better: 'lower', digits: 1 },
  { scenario: 'confirm', key: 'redisScriptUsecPerRoundTrip', label: 'Redis time in scripts per round trip (EVALSHA usec, their calls included)', unit: 'µs', better: 'lower', digits: 1 },
  { scenario: 'confirm', key: 'redisCommandsPerRoundTrip', label: 'Redis commands per round trip', unit: 'commands', better: 'lower', digits: 1 },
  { scenario: 'confirm', key: 'serverCores', label: 'CPU busy, instances + Redis', unit: 'cores', digits: 2 },
  { scenario: 'confirm', key: 'loadCores', label: 'load generator CPU busy', unit: 'cores', digits: 2 },
];

const RATIOS = [
  ['gateway', 'raw-ws'],
  ['gateway', 'socketio'],
  ['gateway', 'socketio-express'],
  ['socketio', 'raw-ws'],
  ['socketio-express', 'socketio'],
  ['gateway', 'nest-floor'],
  ['nest-floor', 'raw-ws'],
  ['nest-floor', 'socketio'],
];

export function scenarioTitles(cfg) {
  const across = cfg.cluster ? ` over ${cfg.instances} instances` : '';
  return {
    connections: `connections (${cfg.clients} clients${across})`,
    fanout: `fan-out (${cfg.clients} clients${across}, ${cfg.rounds} rounds)`,
    confirm: `confirm round trip (${cfg.confirmUsers} loops, ${cfg.durationMs / 1000} s${cfg.cluster ? ', caller and user on different instances' : ''})`,
    push: `targeted push (${cfg.pushUsers} users, ${cfg.pushConcurrency} in flight, ${cfg.durationMs / 1000} s)`,
  };
}

export function markdownReport(run) {
  const { cfg, results, environment } = run;
  const servers = cfg.servers;
  const ratios = RATIOS.filter(([a, b]) => servers.includes(a) && servers.includes(b));
  const titles = scenarioTitles(cfg);
  const header = ['scenario', 'metric', ...servers.map((s) => SERVERS[s].label), ...ratios.map(([a, b]) => `${SERVERS[a].label} ÷ ${SERVERS[b].label}`)];
  const rows = (cfg.cluster ? CLUSTER_METRICS : METRICS).filter((m) => results[m.scenario]).map((m) => [
    titles[m.scenario],
    `${m.label} (${m.unit}${m.better ? `, ${m.better} is better` : ''})`,
    ...servers.map((s) => cell(results[m.scenario][s], m)),
    ...ratios.map(([a, b]) => (m.better ? ratio(value(results[m.scenario][a], m), value(results[m.scenario][b], m)) : '')),
  ]);
  const table = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
  return [
    cfg.cluster
      ? `# Cluster benchmark: ${cfg.instances} gateway instances vs ${cfg.instances} Socket.IO instances with @socket.io/redis-adapter, each on one Redis${cfg.smoke ? ' (smoke run)' : ''}`
      : `# Benchmark: gateway vs raw ws vs Socket.IO${servers.includes('nest-floor') ? ' vs the Nest floor' : ''}${cfg.smoke ? ' (smoke run)' : ''}`,
    '',
    `${environment.date} · commit ${environment.commit} · Node ${environment.node} · ${environment.cpus} × ${environment.cpuModel}, ${environment.memoryGiB} GiB, ${environment.kernel} · open files limit ${environment.openFiles}${environment.redis ? ` · Redis ${environment.redis}` : ''}`,
    '',
    table,
    '',
    ...problems(results, servers),
    ...(cfg.cluster ? CLUSTER_NOTES : []),
    'The gateway runs as `node dist/main.js` with NODE_ENV=production, API_KEYS (every request sends the key),',
    'AUTH_MODE=none + ALLOW_INSECURE_AUTH_NONE=true (the others trust `?user_id=` too) and WEBSOCKET_RATE_LIMIT/BURST',
    'raised, since one bench client confirms far faster than a person. Ratios divide the first server\'s figure by',
    'the second\'s (below 1 means a smaller number).',
    'Every server, and every load generator, is its own process; all share the same cores, so a load generator',
    'that is busy itself caps the throughput figures (see `loadCores` in latest.json); the CPU-per-message',
    'figures do not depend on that. Socket.IO\'s clients are socket.io-client, which costs its load generator more.',
    'The heap per connection is measured after forced full collections (the gateway\'s through its inspector,',
    'opened with SIGUSR1); RSS is VmRSS from /proc, which a collection does not necessarily shrink.',
    '',
  ].join('\n');
}

const CLUSTER_NOTES = [
  'Cluster run: every session starts a fresh `redis-server --save \'\' --appendonly no` and the instances with',
  'REDIS_URL pointing at it (the gateway\'s cluster mode; both Socket.IO servers with `@socket.io/redis-adapter` on ioredis).',
  'Clients connect to the instances in turn; a confirm loop for a user on instance i posts to instance i+1;',
  'broadcasts are posted to the first instance. CPU is utime + stime from /proc of all instances and of',
  'redis-server; Redis commands are the calls counted by `INFO commandstats` over the same window (the',
  'harness\'s own INFO calls left out). Redis time in commands is the `usec` it reports for every command',
  'but scripts, summed (a command a script calls counts there too); time in scripts is EVALSHA\'s `usec`, which',
  'includes the commands the script called (so the two overlap and are not added). Neither holds the event loop,',
  'socket I/O or pub/sub fan-out that Redis\'s process CPU includes; both are wall time, which a busy machine',
  'stretches. RSS per connection includes the growth of Redis\'s RSS.',
  '',
];

function problems(results, servers) {
  const lines = [];
  for (const [scenario, byServer] of Object.entries(results)) {
    for (const server of servers) {
      const error = byServer[server]?.error;
      if (error) lines.push(`- **${scenario} / ${SERVERS[server].label}**: ${error.split('\n')[0]}`);
    }
  }
  return lines.length > 0 ? ['Problems:', '', ...lines, ''] : [];
}

function value(result, metric) {
  const raw = result?.[metric.key];
  return typeof raw === 'number' && Number.isFinite(raw) ? raw * (metric.scale ?? 1) : undefined;
}

function cell(result, metric) {
  if (!result) return '—';
  const v = value(result, metric);
  if (v === undefined) return result.error ? 'failed' : '—';
  const text = v.toLocaleString('en-US', { minimumFractionDigits: metric.digits, maximumFractionDigits: metric.digits });
  return result.error ? `${text} ⚠` : text;
}

function ratio(a, b) {
  if (a === undefined || b === undefined || b === 0) return '—';
  return `${(a / b).toFixed(2)}×`;
}

/** The figures the final summary calls costs, per server. */
export function costSummary(results, servers) {
  return servers.map((s) => ({
    server: s,
    cpuPerBroadcastDeliveryUs: results.fanout?.[s]?.cpuPerDeliveryUs,
    cpuPerPushDeliveryUs: results.push?.[s]?.cpuPerDeliveryUs,
    cpuPerRoundTripUs: results.confirm?.[s]?.cpuPerRoundTripUs,
    redisCommandsPerRoundTrip: results.confirm?.[s]?.redisCommandsPerRoundTrip,
    redisCommandUsecPerRoundTrip: results.confirm?.[s]?.redisCommandUsecPerRoundTrip,
    redisScriptUsecPerRoundTrip: results.confirm?.[s]?.redisScriptUsecPerRoundTrip,
    rssPerConnectionKiB: results.connections?.[s]?.rssPerConnection / 1024,
    heapPerConnectionKiB: results.connections?.[s]?.heapPerConnection / 1024,
  }));
}
