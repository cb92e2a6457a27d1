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

const RATIOS = [
  ['gateway', 'raw-ws'],
  ['gateway', 'socketio'],
  ['socketio', 'raw-ws'],
];

export function scenarioTitles(cfg) {
  return {
    connections: `connections (${cfg.clients} clients)`,
    fanout: `fan-out (${cfg.clients} clients, ${cfg.rounds} rounds)`,
    confirm: `confirm round trip (${cfg.confirmUsers} loops, ${cfg.durationMs / 1000} s)`,
    push: `targeted push (${cfg.pushUsers} users, ${cfg.pushConcurrency} in flight, ${cfg.durationMs / 1000} s)`,
  };
}

export function markdownReport(run) {
  const { cfg, results, environment } = run;
  const servers = cfg.servers;
  const ratios = RATIOS.filter(([a, b]) => servers.includes(a) && servers.includes(b));
  const titles = scenarioTitles(cfg);
  const header = ['scenario', 'metric', ...servers.map((s) => SERVERS[s].label), ...ratios.map(([a, b]) => `${SERVERS[a].label} ÷ ${SERVERS[b].label}`)];
  const rows = METRICS.filter((m) => results[m.scenario]).map((m) => [
    titles[m.scenario],
    `${m.label} (${m.unit}${m.better ? `, ${m.better} is better` : ''})`,
    ...servers.map((s) => cell(results[m.scenario][s], m)),
    ...ratios.map(([a, b]) => (m.better ? ratio(value(results[m.scenario][a], m), value(results[m.scenario][b], m)) : '')),
  ]);
  const table = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
  return [
    `# Benchmark: gateway vs raw ws vs Socket.IO${cfg.smoke ? ' (smoke run)' : ''}`,
    '',
    `${environment.date} · commit ${environment.commit} · Node ${environment.node} · ${environment.cpus} × ${environment.cpuModel}, ${environment.memoryGiB} GiB, ${environment.kernel} · open files limit ${environment.openFiles}`,
    '',
    table,
    '',
    ...problems(results, servers),
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
    rssPerConnectionKiB: results.connections?.[s]?.rssPerConnection / 1024,
    heapPerConnectionKiB: results.connections?.[s]?.heapPerConnection / 1024,
  }));
}
