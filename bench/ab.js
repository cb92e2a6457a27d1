// Two builds of the gateway measured at the same time: both run side by side under the same
// load in every round, so what the shared machine does meanwhile (other tenants, frequency
// changes) falls on both alike. Alternating runs one after the other (BENCH_GATEWAY_DIST)
// swing 30 % between identical builds here; ratios taken in one window are far steadier.
//   node bench/ab.js <dist A> <dist B> [confirm|push] [rounds]     (after building both)
// A side may also name a comparison server instead of a build (nest-floor, raw-ws, ...):
//   node bench/ab.js nest-floor dist confirm 6     (the gateway's cost over the floor's)
// Prints each round's CPU per operation for A and B, B / A, and the median ratio.
import { loadConfig } from './lib/config.js';
import { serverNamed, startServer } from './lib/servers.js';
import { percentile } from './lib/stats.js';
import { startWorkers, stopWorkers } from './lib/workers.js';
import { runConfirm } from './scenarios/confirm.js';
import { runPush } from './scenarios/push.js';

const [distA, distB, scenario = 'confirm', roundsArg = '5'] = process.argv.slice(2);
if (!distA || !distB) throw new Error('usage: node bench/ab.js <dist A> <dist B> [confirm|push] [rounds]');
const run = scenario === 'push' ? runPush : runConfirm;
const cfg = { ...loadConfig([]), profile: false };
const ratios = [];
for (let round = 1; round <= Number(roundsArg); round++) {
  // Who starts first alternates, in case starting order matters.
  const order = round % 2 === 1 ? [distA, distB] : [distB, distA];
  const cpu = await measureTogether(order);
  const [a, b] = round % 2 === 1 ? cpu : [cpu[1], cpu[0]];
  ratios.push(b / a);
  console.log(`round ${round}: A ${a.toFixed(1)} µs, B ${b.toFixed(1)} µs per ${scenario}, B/A ${(b / a).toFixed(3)}`);
}
console.log(`${scenario}: B/A median ${percentile(ratios, 50).toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)}, ${ratios.length} rounds)`);

async function measureTogether(dists) {
  const servers = [];
  const workers = [];
  try {
    for (const [index, dist] of dists.entries()) {
      // A tag per side: an A/A run starts the same build twice.
      servers.push(await startServer(serverNamed(dist), { logDir: cfg.logDir, tag: `ab-${index}` }));
      workers.push(startWorkers(1, `ab-${index}`));
    }
    const outcomes = await Promise.all(servers.map((server, index) => run({ server, workers: workers[index], cfg })));
    return outcomes.map((outcome) => {
      const result = Object.values(outcome)[0];
      if (result.error) throw new Error(result.error);
      return result.cpuPerRoundTripUs ?? result.cpuPerDeliveryUs;
    });
  } finally {
    await Promise.all(workers.map((set) => stopWorkers(set)));
    await Promise.all(servers.map((server) => server.stop()));
  }
}
