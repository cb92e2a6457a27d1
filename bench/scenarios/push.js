// Targeted push: closed loops of POST /users/:id/messages, as fast as the server takes
// them, each message to one connected user.
import { AUTH_HEADERS } from '../lib/servers.js';
import { connectUsers } from './connect.js';
import { profiled } from './profile.js';
import { perOperation, watchWindow, withRetainedHeap } from './window.js';

export async function runPush({ server, workers, cfg }) {
  const [worker] = workers;
  const users = await connectUsers(worker, server, { prefix: 'push', count: cfg.pushUsers, cfg });
  const args = {
    baseUrl: server.baseUrl,
    headers: AUTH_HEADERS,
    users,
    concurrency: cfg.pushConcurrency,
    warmupMs: cfg.warmupMs,
    durationMs: cfg.durationMs,
    drainMs: 5_000,
  };
  const cpu = watchWindow(server, worker);
  const runLoops = () => worker.call('pushLoops', args, cfg.warmupMs + cfg.durationMs + 60_000);
  const loops = await withRetainedHeap(server, () => profiled(server, cfg, 'push', runLoops));
  const window = await cpu.read();
  const result = { users: cfg.pushUsers, concurrency: cfg.pushConcurrency, ...loops, ...window, ...perOperation(window, loops.receivedInWindow, 'Delivery') };
  if (loops.receivedInWindow === 0) throw new Error(`no message arrived: ${loops.firstError}`);
  const problems = [];
  if (loops.errors > 0) problems.push(`${loops.errors} failed requests, first: ${loops.firstError}`);
  if (loops.missing > 0) problems.push(`${loops.missing} messages reported delivered never arrived`);
  if (problems.length > 0) result.error = problems.join('; ');
  return { push: result };
}
