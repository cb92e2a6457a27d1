// Issue 19.5: what posts to offline users cost a memory-mode gateway. POSTS messages of
// about BYTES each go to POSTS different users with no connection (each kept in its user's
// history); the process's RSS and its JS heap after a forced GC are read before and after,
// with the history byte bounds at their defaults (or as set in the environment).
// Usage (after npm run build):
//   node bench/offline-history.js [posts] [bytes]
import { join } from 'node:path';
import { createAgent, postJson } from './lib/http.js';
import { AUTH_HEADERS, ROOT, startServer } from './lib/servers.js';

const POSTS = Number(process.argv[2] ?? 400);
const BYTES = Number(process.argv[3] ?? 1_000_000);
const IN_FLIGHT = 4;
const MiB = 1024 * 1024;

const server = await startServer('gateway', { logDir: join(ROOT, 'bench/results/logs'), tag: 'offline-history' });
try {
  const before = await server.memory();
  const agent = createAgent(IN_FLIGHT);
  const padding = 'x'.repeat(BYTES);
  let next = 0;
  const worker = async () => {
    for (let seq = next++; seq < POSTS; seq = next++) {
      const res = await postJson(`${server.baseUrl}/users/offline-${seq}/messages`, { type: 'personal_notification', seq, padding }, { agent, headers: AUTH_HEADERS });
      if (res.status !== 200) throw new Error(`post answered ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  agent.destroy();
  const after = await server.memory();
  const mib = (bytes) => (bytes / MiB).toFixed(0);
  console.log(`${POSTS} posts of ${BYTES} bytes to offline users (HISTORY_MAX_BYTES_TOTAL ${process.env.HISTORY_MAX_BYTES_TOTAL ?? 'default'})`);
  console.log('| | RSS (MiB) | JS heap after GC (MiB) |');
  console.log('| --- | --- | --- |');
  console.log(`| before | ${mib(before.rss)} | ${mib(before.heapUsed)} |`);
  console.log(`| after | ${mib(after.rss)} | ${mib(after.heapUsed)} |`);
} finally {
  await server.stop();
}
process.exit(0);
