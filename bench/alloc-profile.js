// What a server allocates during a scenario, garbage included: V8's sampling heap profiler
// (through the inspector) over a push or confirm run, summed per function. Allocation, not
// retention, is what the collector's share of a profile pays for.
//   node bench/alloc-profile.js [gateway|nest-floor] [push|confirm]    (after npm run build)
// Writes bench/results/<server>-<scenario>.heapprofile (open it in Chrome DevTools).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from './lib/config.js';
import { openInspector } from './lib/inspector.js';
import { freePort, startServer } from './lib/servers.js';
import { startWorkers, stopWorkers } from './lib/workers.js';
import { runConfirm } from './scenarios/confirm.js';
import { runPush } from './scenarios/push.js';

const [name = 'gateway', scenario = 'push'] = process.argv.slice(2);
const SAMPLING_INTERVAL_BYTES = 4096;
const cfg = { ...loadConfig([]), durationMs: 6_000 };
const inspectPort = await freePort();
const server = await startServer(name, { logDir: cfg.logDir, tag: 'alloc', inspectPort });
const workers = startWorkers(1, 'alloc');
let session;
try {
  session = await openInspector(server.pid, server.def.script, inspectPort);
  await session.call('HeapProfiler.enable');
  await session.call('HeapProfiler.startSampling', { samplingInterval: SAMPLING_INTERVAL_BYTES, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const outcome = await (scenario === 'confirm' ? runConfirm : runPush)({ server, workers, cfg });
  const { profile } = await session.call('HeapProfiler.stopSampling', {}, 60_000);
  writeFileSync(join(cfg.resultsDir, `${name}-${scenario}.heapprofile`), JSON.stringify(profile));
  const result = Object.values(outcome)[0];
  const operations = result.receivedInWindow ?? result.roundTrips ?? 0;
  report(profile, operations);
} finally {
  session?.close();
  await stopWorkers(workers);
  await server.stop();
}

/** The top allocating functions; per operation only roughly (warm-up and drain are sampled too). */
function report(profile, operations) {
  const bytes = new Map();
  const walk = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|dist|bench)\//, '$1/')}:${lineNumber + 1}`;
    bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
    node.children.forEach(walk);
  };
  walk(profile.head);
  const total = [...bytes.values()].reduce((a, b) => a + b, 0);
  console.log(`${name} / ${scenario}: ${(total / 2 ** 20).toFixed(1)} MiB allocated while sampled, ${operations} operations in the measured window`);
  for (const [key, size] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${(size / 2 ** 20).toFixed(2).padStart(8)} MiB ${((100 * size) / total).toFixed(1).padStart(5)} %  ${key}`);
  }
}
