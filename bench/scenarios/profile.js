// --profile: a CPU profile of the server over a scenario's measured part.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProfiling } from '../lib/inspector.js';
import { summarizeByPackage, summarizeProfile } from '../lib/profile-summary.js';

/** Runs `work`, sampling the server's CPU meanwhile when the run asked for profiles. */
export async function profiled(server, cfg, scenario, work) {
  if (!cfg.profile) return work();
  const stop = await startProfiling(server.pid, server.def.script);
  try {
    return await work();
  } finally {
    const profile = await stop();
    const path = join(cfg.resultsDir, `${server.name}-${scenario}.cpuprofile`);
    writeFileSync(path, JSON.stringify(profile));
    const summary = `${server.name} during ${scenario}, ${summarizeProfile(profile, 15)}\n\n${summarizeByPackage(profile)}`;
    writeFileSync(join(cfg.resultsDir, `${server.name}-${scenario}.profile.md`), `${summary}\n`);
    console.error(`bench: CPU profile: ${path}\n${summary}`);
  }
}
