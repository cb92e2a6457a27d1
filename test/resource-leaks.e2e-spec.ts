import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TestClient } from './support/test-client.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';
import { report } from './support/report.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function countResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
}

/** Opens `count` connections in batches, uses each once, and closes them all. */
async function churnConnections(t: TestApp, count: number, batch = 100) {
  for (let done = 0; done < count; done += batch) {
    const clients = await Promise.all(
      Array.from({ length: batch }, (_, i) => TestClient.open(`${t.wsUrl}/?user_id=churn-${(done + i) % 50}`)),
    );
    await Promise.all(clients.map((c) => c.request({ action: 'ping' }, 'pong')));
    for (const c of clients) c.socket.close();
    await Promise.all(clients.map((c) => c.closed));
  }
}

/** Creates `count` confirmations: a third answered, a third timed out, a third cancelled. */
async function churnConfirmations(t: TestApp, count: number) {
  const user = await t.connect('leak-user');
  for (let i = 0; i < count; i += 3) {
    const body = (n: number, extra = {}) => notifyBody('leak-user', `leak-task-${i + n}`, extra);
    const answered = await t.http('POST', '/notify?wait=false', body(0));
    user.send({ action: 'confirm', callback_id: answered.body.callback_id, proceed: true });
    await t.http('POST', '/notify?wait=false', body(1, { timeout_seconds: 0.05 }));
    await t.http('POST', '/notify?wait=false', body(2));
    user.send({ action: 'cancel', task_id: `leak-task-${i + 2}` });
    const heartbeat = await t.http('POST', '/heartbeats', { user_id: 'leak-user', task_id: `leak-task-${i}`, interval_seconds: 10 });
    await t.http('DELETE', `/heartbeats/${heartbeat.body.heartbeat_id}`);
  }
  await sleep(200);
  user.socket.close();
  await user.closed;
}

describe('resources return to baseline (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      CONFIRMATION_RETENTION_SECONDS: 1,
      WEBSOCKET_MAX_CONNECTIONS: 5000,
      WEBSOCKET_MAX_CONNECTIONS_PER_USER: 500,
      WEBSOCKET_RATE_LIMIT: 100_000,
      WEBSOCKET_RATE_BURST: 100_000,
    });
  });
  afterAll(() => t.close());

  it('after thousands of connections and confirmations, timers, sockets and heap are back', async () => {
    // Warm up so lazily created structures exist before the baseline.
    await churnConnections(t, 100);
    await churnConfirmations(t, 30);
    await sleep(1200);
    const baselineHeap = await settledHeap();
    const baseline = countResources();

    await churnConnections(t, 3000);
    await churnConfirmations(t, 1500);
    const status = (await t.http('GET', '/status')).body;
    expect(status.total_connections).toBeGreaterThanOrEqual(3100);
    expect(status.confirmations.created).toBeGreaterThanOrEqual(1500);

    // Retention (1 s) drops the settled records; the sweep runs every second.
    await sleep(2500);
    const after = countResources();
    const afterHeap = await settledHeap();
    const finalStatus = (await t.http('GET', '/status')).body;

    report(
      `resource-leaks: ${finalStatus.total_connections} connections, ${finalStatus.confirmations.created} confirmations; ` +
        `heap ${(baselineHeap / 2 ** 20).toFixed(1)} -> ${(afterHeap / 2 ** 20).toFixed(1)} MiB; ` +
        `timers ${baseline.Timeout ?? 0} -> ${after.Timeout ?? 0}; sockets ${baseline.TCPSocketWrap ?? 0} -> ${after.TCPSocketWrap ?? 0}`,
    );
    expect(finalStatus).toMatchObject({ active_connections: 0, pending_callbacks: 0, active_heartbeats: 0 });
    expect(after.Timeout ?? 0).toBeLessThanOrEqual((baseline.Timeout ?? 0) + 2);
    expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual((baseline.TCPSocketWrap ?? 0) + 2);
    expect(afterHeap - baselineHeap).toBeLessThan(8 * 1024 * 1024);
  }, 120_000);
});
