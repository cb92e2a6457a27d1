// CPU time of the server and of the load generator over a worker's measuring window,
// how the server's RSS moved meanwhile, and the heap the operations left behind. For a
// cluster the server's CPU is its instances' and Redis's together, with the two parts and
// the Redis commands of the window reported apart as well.
import { commandDelta } from '../lib/redis.js';
import { cpuSeconds } from '../lib/proc.js';
import { now } from '../lib/stats.js';

/**
 * A reading of the server's counters. Synchronous except for Redis's command counts
 * (a promise, read at the same moment, awaited by costBetween).
 */
export function costMark(server, loadPid) {
  return {
    at: now(),
    server: server.cpuSeconds(),
    parts: server.cpuParts?.(),
    load: loadPid === undefined ? undefined : cpuSeconds(loadPid),
    rss: server.rss(),
    commands: server.commandCalls?.(),
  };
}

/** What the server spent between two marks; the cluster fields only for a cluster. */
export async function costBetween(start, end) {
  const seconds = (end.at - start.at) / 1000;
  const cost = {
    serverCpuSeconds: end.server - start.server,
    serverCores: (end.server - start.server) / seconds,
    serverRssStart: start.rss,
    serverRssGrowth: end.rss - start.rss,
  };
  if (start.load !== undefined) cost.loadCores = (end.load - start.load) / seconds;
  if (start.parts) {
    cost.instancesCpuSeconds = end.parts.instances - start.parts.instances;
    cost.redisCpuSeconds = end.parts.redis - start.parts.redis;
    const commands = commandDelta(await start.commands, await end.commands);
    cost.redisCommands = commands.total;
    cost.redisCommandsByName = commands.perCommand;
    cost.redisCommandSeconds = commands.usec / 1e6;
    cost.redisScriptSeconds = commands.scriptUsec / 1e6;
  }
  return cost;
}

/** Divides the window's CPU (total and parts) and Redis commands by `count` operations, as `<prefix>…` fields. */
export function perOperation(cost, count, unit) {
  const per = (value) => (value === undefined ? undefined : value / count);
  const result = { [`cpuPer${unit}Us`]: per(cost.serverCpuSeconds) * 1e6 };
  if (cost.instancesCpuSeconds !== undefined) {
    result[`instancesCpuPer${unit}Us`] = per(cost.instancesCpuSeconds) * 1e6;
    result[`redisCpuPer${unit}Us`] = per(cost.redisCpuSeconds) * 1e6;
    // Redis's own account (INFO commandstats usec): the time in commands (each once, also
    // when a script called it), and in scripts (their commands included), without the event
    // loop, the sockets and the pub/sub fan-out that the process CPU above includes.
    result[`redisCommandUsecPer${unit}`] = per(cost.redisCommandSeconds) * 1e6;
    result[`redisScriptUsecPer${unit}`] = per(cost.redisScriptSeconds) * 1e6;
    result[`redisCommandsPer${unit}`] = per(cost.redisCommands);
    result[`redisCommandsPer${unit}ByName`] = Object.fromEntries(
      Object.entries(cost.redisCommandsByName).sort((a, b) => b[1] - a[1]).map(([name, calls]) => [name, +(calls / count).toFixed(3)]),
    );
  }
  return result;
}

/** Starts listening for `worker`'s window events; read() gives the cost figures once it closed. */
export function watchWindow(server, worker) {
  const marks = {};
  const unsubscribe = worker.onEvent((event) => {
    if (event.event !== 'window') return;
    marks[event.phase] = costMark(server, worker.pid);
  });
  return {
    async read() {
      unsubscribe();
      const { start, end } = marks;
      if (!start || !end) throw new Error('the measuring window never closed');
      return costBetween(start, end);
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
