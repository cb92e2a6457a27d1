// CPU time of the server and of the load generator over a worker's measuring window,
// how the server's RSS moved meanwhile, and the heap the operations left behind.
import { cpuSeconds, rssBytes } from '../lib/proc.js';
import { now } from '../lib/stats.js';

/** Starts listening for `worker`'s window events; read() gives the CPU figures once it closed. */
export function watchWindow(server, worker) {
  const marks = {};
  const unsubscribe = worker.onEvent((event) => {
    if (event.event !== 'window') return;
    marks[event.phase] = { at: now(), server: server.cpuSeconds(), load: cpuSeconds(worker.pid), rss: rssBytes(server.pid) };
  });
  return {
    read() {
      unsubscribe();
      const { start, end } = marks;
      if (!start || !end) throw new Error('the measuring window never closed');
      const seconds = (end.at - start.at) / 1000;
      return {
        serverCpuSeconds: end.server - start.server,
        serverCores: (end.server - start.server) / seconds,
        loadCores: (end.load - start.load) / seconds,
        serverRssStart: start.rss,
        serverRssGrowth: end.rss - start.rss,
      };
    },
  };
}

/**
 * Runs the loops between two readings of the server's memory after GC, and tells how
 * much heap each completed operation left behind (state the server keeps per request).
 */
export async function withRetainedHeap(server, runLoops) {
  const before = await server.memory();
  const loops = await runLoops();
  const after = await server.memory();
  const retained = after.heapUsed - before.heapUsed;
  return { ...loops, heapRetained: retained, heapRetainedPerOp: retained / loops.completed, heapAfterGc: before.afterGc && after.afterGc };
}
