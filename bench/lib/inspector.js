// Reaches into a running Node process without changing how it was started: SIGUSR1
// makes Node open its inspector on 127.0.0.1:9229 (or on the port its --inspect-port
// names, which cluster runs give each instance, as only one process can hold 9229), and
// the inspector protocol can force a garbage collection, read process.memoryUsage() and
// record a CPU profile.
import WebSocket from 'ws';
import { getJson } from './http.js';
import { sleep, withTimeout } from './stats.js';

const DEFAULT_PORT = 9229;

/** Opens an inspector session on process `pid`, whose main script path contains `script`. */
export async function openInspector(pid, script, port = DEFAULT_PORT) {
  process.kill(pid, 'SIGUSR1');
  const target = await findTarget(script, port);
  const ws = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false });
  await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5_000, 'inspector connect');
  let nextId = 1;
  const pending = new Map();
  ws.on('message', (data) => {
    const message = JSON.parse(data);
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`${message.error.message}`));
    else waiter.resolve(message.result);
  });
  return {
    call(method, params = {}, timeoutMs = 30_000) {
      const id = nextId++;
      const reply = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
      ws.send(JSON.stringify({ id, method, params }));
      return withTimeout(reply, timeoutMs, `inspector ${method}`);
    },
    close: () => ws.close(),
  };
}

async function findTarget(script, port) {
  const inspector = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const list = await getJson(`${inspector}/json/list`, { timeoutMs: 1_000 }).catch(() => undefined);
    // Port 9229 could belong to some other process: only our own target will do.
    const target = Array.isArray(list?.body) ? list.body.find((t) => t.url?.includes(script)) : undefined;
    if (target) return target;
    await sleep(100);
  }
  throw new Error(`no inspector target for ${script} on ${inspector}`);
}

/** process.memoryUsage() of the target after two full collections, and how many handles and requests keep its loop alive (`activeResources`). */
export async function memoryAfterGc(pid, script, port) {
  const session = await openInspector(pid, script, port);
  try {
    await session.call('HeapProfiler.collectGarbage');
    await session.call('HeapProfiler.collectGarbage');
    const { result } = await session.call('Runtime.evaluate', { expression: 'JSON.stringify({ ...process.memoryUsage(), activeResources: process.getActiveResourcesInfo().length })', returnByValue: true });
    return JSON.parse(result.value);
  } finally {
    session.close();
  }
}

/** Starts sampling; the returned function stops and resolves to the .cpuprofile object. */
export async function startProfiling(pid, script, { intervalUs = 250, port } = {}) {
  const session = await openInspector(pid, script, port);
  await session.call('Profiler.enable');
  await session.call('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.call('Profiler.start');
  return async () => {
    try {
      const { profile } = await session.call('Profiler.stop', {}, 60_000);
      return profile;
    } finally {
      session.close();
    }
  };
}
