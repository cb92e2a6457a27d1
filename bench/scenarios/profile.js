// --profile: a CPU profile of the server over a scenario's measured part (of every
// instance, in a cluster run).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProfiling } from '../lib/inspector.js';
import { summarizeByPackage, summarizeProfile } from '../lib/profile-summary.js';

/** Runs `work`, sampling the server's CPU meanwhile when the run asked for profiles. */
export async function profiled(server, cfg, scenario, work) {
  if (!cfg.profile) return work();
  const instances = server.instances;
  const stops = await Promise.all(instances.map((instance) => startProfiling(instance.pid, instance.def.script, { port: instance.inspectPort })));
  try {
    return await work();
  } finally {
    for (const [i, stop] of stops.entries()) {
      const profile = await stop();
      const name = instances.length > 1 ? `${server.name}-${scenario}-cluster-i${i}` : `${server.name}-${scenario}`;
      const path = join(cfg.resultsDir, `${name}.cpuprofile`);
      writeFileSync(path, JSON.stringify(profile));
      const summary = `${name} during ${scenario}, ${summarizeProfile(profile, 15)}\n\n${summarizeByPackage(profile)}`;
      writeFileSync(join(cfg.resultsDir, `${name}.profile.md`), `${summary}\n`);
      console.error(`bench: CPU profile: ${path}\n${summary}`);
    }
  }
}
