// Confirmation round trips: each loop asks its user via POST /notify and waits for the
// answer, which that user's auto-confirming client gives over the socket. In a cluster,
// user i is connected to instance i mod N and its caller posts to instance i+1 mod N, so
// every round trip crosses instances.
import { AUTH_HEADERS } from '../lib/servers.js';
import { connectUsers } from './connect.js';
import { profiled } from './profile.js';
import { perOperation, watchWindow, withRetainedHeap } from './window.js';

export async function runConfirm({ server, workers, cfg }) {
  const [worker] = workers;
  const users = await connectUsers(worker, server, { prefix: 'confirm', count: cfg.confirmUsers, cfg });
  const { baseUrls } = server;
  const args = {
    baseUrl: server.baseUrl,
    callerUrls: users.map((_, i) => baseUrls[(i + 1) % baseUrls.length]),
    headers: AUTH_HEADERS,
    users,
    warmupMs: cfg.warmupMs,
    durationMs: cfg.durationMs,
  };
  const cpu = watchWindow(server, worker);
  const runLoops = () => worker.call('notifyLoops', args, cfg.warmupMs + cfg.durationMs + 60_000);
  const loops = await withRetainedHeap(server, () => profiled(server, cfg, 'confirm', runLoops));
  const window = await cpu.read();
  const result = { users: cfg.confirmUsers, ...loops, ...window, ...perOperation(window, loops.roundTrips, 'RoundTrip') };
  if (loops.roundTrips === 0) throw new Error(`no round trip completed: ${loops.firstError}`);
  if (loops.errors > 0) result.error = `${loops.errors} failed requests, first: ${loops.firstError}`;
  return { confirm: result };
}
