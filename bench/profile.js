// Where a server spends a scenario, through the inspector, summed per function:
//   cpu    V8's CPU profiler: self time per function (what the gateway costs beyond the floor).
//   alloc  V8's sampling heap profiler: bytes allocated, garbage included (what the collector's
//          share of a CPU profile pays for).
//   node bench/profile.js [cpu|alloc] [gateway|nest-floor|...] [push|confirm]    (after npm run build)
// Writes bench/results/<server>-<scenario>.cpuprofile or .heapprofile (open it in Chrome DevTools).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from './lib/config.js';
import { openInspector } from './lib/inspector.js';
import { freePort, startServer } from './lib/servers.js';
import { startWorkers, stopWorkers } from './lib/workers.js';
import { runConfirm } from './scenarios/confirm.js';
import { runPush } from './scenarios/push.js';

const [mode = 'cpu', name = 'gateway', scenario = 'push'] = process.argv.slice(2);
if (mode !== 'cpu' && mode !== 'alloc') throw new Error(`mode must be cpu or alloc, not ${mode}`);
const SAMPLING_INTERVAL_BYTES = 4096;
const CPU_SAMPLING_INTERVAL_US = 100;
const cfg = { ...loadConfig([]), durationMs: 6_000 };
const inspectPort = await freePort();
const server = await startServer(name, { logDir: cfg.logDir, tag: 'profile', inspectPort });
const workers = startWorkers(1, 'profile');
let session;
try {
  session = await openInspector(server.pid, server.def.script, inspectPort);
  const profiler = mode === 'cpu' ? cpuProfiler(session) : allocationProfiler(session);
  await profiler.start();
  const outcome = await (scenario === 'confirm' ? runConfirm : runPush)({ server, workers, cfg });
  const profile = await profiler.stop();
  writeFileSync(join(cfg.resultsDir, `${name}-${scenario}.${profiler.extension}`), JSON.stringify(profile));
  const result = Object.values(outcome)[0];
  const operations = result.receivedInWindow ?? result.roundTrips ?? 0;
  report(profiler.totals(profile), profiler.unit, operations);
} finally {
  session?.close();
  await stopWorkers(workers);
  await server.stop();
}

function allocationProfiler(session) {
  return {
    extension: 'heapprofile',
    unit: 'MiB allocated',
    async start() {
      await session.call('HeapProfiler.enable');
      await session.call('HeapProfiler.startSampling', { samplingInterval: SAMPLING_INTERVAL_BYTES, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    },
    stop: async () => (await session.call('HeapProfiler.stopSampling', {}, 60_000)).profile,
    totals(profile) {
      const sizes = new Map();
      const walk = (node) => {
        add(sizes, frameKey(node.callFrame), node.selfSize / 2 ** 20);
        node.children.forEach(walk);
      };
      walk(profile.head);
      return sizes;
    },
  };
}

function cpuProfiler(session) {
  return {
    extension: 'cpuprofile',
    unit: 's of CPU (self)',
    async start() {
      await session.call('Profiler.enable');
      await session.call('Profiler.setSamplingInterval', { interval: CPU_SAMPLING_INTERVAL_US });
      await session.call('Profiler.start');
    },
    stop: async () => (await session.call('Profiler.stop', {}, 60_000)).profile,
    totals(profile) {
      const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
      const seconds = new Map();
      for (let i = 0; i < profile.samples.length; i++) add(seconds, frameKey(frames.get(profile.samples[i])), (profile.timeDeltas[i] ?? 0) / 1e6);
      return seconds;
    },
  };
}

function frameKey({ functionName, url, lineNumber }) {
  return `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|dist|bench)\//, '$1/')}:${lineNumber + 1}`;
}

function add(map, key, amount) {
  map.set(key, (map.get(key) ?? 0) + amount);
}

/** The top functions; per operation only roughly (warm-up and drain are sampled too). */
function report(totals, unit, operations) {
  const total = [...totals.values()].reduce((a, b) => a + b, 0);
  console.log(`${name} / ${scenario}: ${total.toFixed(1)} ${unit} while sampled, ${operations} operations in the measured window`);
  for (const [key, amount] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${amount.toFixed(2).padStart(8)} ${((100 * amount) / total).toFixed(1).padStart(5)} %  ${key}`);
  }
}
