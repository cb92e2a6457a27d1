// Where a server spends a scenario, through the inspector, summed per function:
//   cpu    V8's CPU profiler: self time per function (what the gateway costs beyond the floor).
//   alloc  V8's sampling heap profiler: bytes allocated, garbage included (what the collector's
//          share of a CPU profile pays for).
//   survivors  the same, leaving out what died young (in a scavenge): what lived long enough to
//          be copied and moved to the old generation, whose collections are the dear ones.
//   node bench/profile.js [cpu|alloc|survivors] [gateway|nest-floor|...|<dist of another build>] [push|confirm]    (after npm run build)
// Two servers joined by a comma (`dist-old,gateway`) are profiled at the same time, each
// under its own load, as bench/ab.js measures them: profiles taken one after the other on
// this shared machine differ by a third for the same code. Then the report is per operation,
// per source file, B's minus A's.
// Writes bench/results/<server>-<scenario>.cpuprofile or .heapprofile (open it in Chrome DevTools).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from './lib/config.js';
import { openInspector } from './lib/inspector.js';
import { freePort, serverNamed, startServer } from './lib/servers.js';
import { startWorkers, stopWorkers } from './lib/workers.js';
import { runConfirm } from './scenarios/confirm.js';
import { runPush } from './scenarios/push.js';

const [mode = 'cpu', serverArg = 'gateway', scenario = 'push'] = process.argv.slice(2);
if (!['cpu', 'alloc', 'survivors'].includes(mode)) throw new Error(`mode must be cpu, alloc or survivors, not ${mode}`);
const SAMPLING_INTERVAL_BYTES = 4096;
const CPU_SAMPLING_INTERVAL_US = 100;
const cfg = { ...loadConfig([]), durationMs: 6_000 };
const names = serverArg.split(',').map(serverNamed);
const profiles = await Promise.all(names.map((name, index) => profileOne(name, index)));
if (profiles.length === 1) report(profiles[0]);
else compare(profiles);

async function profileOne(name, index) {
  const inspectPort = await freePort();
  const server = await startServer(name, { logDir: cfg.logDir, tag: `profile-${index}`, inspectPort });
  const workers = startWorkers(1, `profile-${index}`);
  let session;
  try {
    session = await openInspector(server.pid, server.def.script, inspectPort);
    const profiler = mode === 'cpu' ? cpuProfiler(session) : allocationProfiler(session, mode === 'alloc');
    await profiler.start();
    const outcome = await (scenario === 'confirm' ? runConfirm : runPush)({ server, workers, cfg });
    const profile = await profiler.stop();
    writeFileSync(join(cfg.resultsDir, `${name}-${scenario}.${profiler.extension}`), JSON.stringify(profile));
    const result = Object.values(outcome)[0];
    return {
      name,
      unit: profiler.unit,
      byFunction: profiler.totals(profile, frameKey),
      byFile: profiler.totals(profile, fileKey),
      operations: result.receivedInWindow ?? result.roundTrips ?? 0,
    };
  } finally {
    session?.close();
    await stopWorkers(workers);
    await server.stop();
  }
}

function allocationProfiler(session, includeDiedYoung) {
  return {
    extension: 'heapprofile',
    unit: includeDiedYoung ? 'MiB allocated' : 'MiB that outlived a scavenge',
    async start() {
      await session.call('HeapProfiler.enable');
      await session.call('HeapProfiler.startSampling', { samplingInterval: SAMPLING_INTERVAL_BYTES, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: includeDiedYoung });
    },
    stop: async () => (await session.call('HeapProfiler.stopSampling', {}, 60_000)).profile,
    totals(profile, keyOf) {
      const sizes = new Map();
      const walk = (node) => {
        add(sizes, keyOf(node.callFrame), node.selfSize / 2 ** 20);
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
    totals(profile, keyOf) {
      const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
      const seconds = new Map();
      for (let i = 0; i < profile.samples.length; i++) add(seconds, keyOf(frames.get(profile.samples[i])), (profile.timeDeltas[i] ?? 0) / 1e6);
      return seconds;
    },
  };
}

function frameKey({ functionName, url, lineNumber }) {
  return `${functionName || '(anonymous)'} ${sourceOf(url)}:${lineNumber + 1}`;
}

/** A build's files under `dist/` whichever directory it was built to, a package's as the package. */
function sourceOf(url) {
  return url.replace(/^.*\/(node_modules|bench)\//, '$1/').replace(/^.*\/dist[^/]*\//, 'dist/');
}

/** A package's frames as the package, the build's as their file, V8's own (GC, idle) by name. */
function fileKey({ functionName, url }) {
  if (!url) return functionName;
  const source = sourceOf(url);
  const pkg = /^node_modules\/((@[^/]+\/)?[^/]+)/.exec(source);
  return pkg ? `node_modules/${pkg[1]}` : source;
}

function add(map, key, amount) {
  map.set(key, (map.get(key) ?? 0) + amount);
}

/** The top functions; per operation only roughly (warm-up and drain are sampled too). */
function report({ name, unit, byFunction: totals, operations }) {
  const total = [...totals.values()].reduce((a, b) => a + b, 0);
  console.log(`${name} / ${scenario}: ${total.toFixed(1)} ${unit} while sampled, ${operations} operations in the measured window`);
  for (const [key, amount] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${amount.toFixed(2).padStart(8)} ${((100 * amount) / total).toFixed(1).padStart(5)} %  ${key}`);
  }
}

/** Two profiles taken together: per operation and per source file, the largest differences first. */
function compare([a, b]) {
  const perOperation = ({ byFile, operations }) => new Map([...byFile].map(([file, amount]) => [file, amount / operations]));
  const [filesA, filesB] = [perOperation(a), perOperation(b)];
  const scale = mode === 'cpu' ? 1e6 : 2 ** 20;
  const unit = mode === 'cpu' ? 'µs' : 'bytes';
  const sum = (files) => [...files.values()].reduce((x, y) => x + y, 0) * scale;
  console.log(`${scenario}, per operation: A ${a.name} ${sum(filesA).toFixed(1)} ${unit} (${a.operations} operations), B ${b.name} ${sum(filesB).toFixed(1)} ${unit} (${b.operations})`);
  const rows = [...new Set([...filesA.keys(), ...filesB.keys()])].map((file) => [file, (filesA.get(file) ?? 0) * scale, (filesB.get(file) ?? 0) * scale]);
  rows.sort((x, y) => Math.abs(y[2] - y[1]) - Math.abs(x[2] - x[1]));
  console.log(`   B - A          A          B  ${unit} per operation`);
  for (const [file, x, y] of rows.slice(0, 40)) console.log(`${(y - x).toFixed(1).padStart(8)} ${x.toFixed(1).padStart(10)} ${y.toFixed(1).padStart(10)}  ${file}`);
}
