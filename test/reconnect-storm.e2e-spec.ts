import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WebSocket } from 'ws';
import { GatewayClient } from '../clients/js/dist/index.js';
import { retryAfterOf } from '../src/protocol/close-code.enum.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { waitFor } from './support/processes.js';
import { requireProgram } from './support/system-dependency.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

/**
 * WEBSOCKET_MAX_CONCURRENT_HANDSHAKES: when more connections open at once than the bound
 * (a reconnect storm after an instance died), the surplus is closed with 1013 before any
 * catch-up reads Redis, and the JS SDK retries after its back-off until it is in.
 */
(haveRedis ? describe : describe.skip)('the bound on concurrent handshakes (cluster mode, e2e)', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster(1, { WEBSOCKET_MAX_CONCURRENT_HANDSHAKES: '2', WEBSOCKET_MAX_CONNECTIONS_PER_USER: '200' });
  }, 60_000);
  afterAll(() => cluster?.close());

  it('closes the surplus of a burst with 1013 and a retry reason; the others get connected', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        new Promise<string>((resolve) => {
          const socket = new WebSocket(`${cluster.instances[0].wsUrl}/ws?user_id=burst-${i}`);
          socket.on('message', (data) => {
            if (JSON.parse(String(data)).type === 'connected') {
              resolve('connected');
              socket.close();
            }
          });
          socket.on('close', (code, reason) => resolve(`${code} ${reason}`));
          socket.on('error', (err) => resolve(`error ${err.message}`));
        }),
      ),
    );
    const refused = outcomes.filter((outcome) => outcome !== 'connected');
    expect(refused.length).toBeGreaterThan(0);
    for (const outcome of refused) expect(outcome).toMatch(/^1013 Too many connections opening; retry after \d+ ms$/);
    const hints = refused.map((outcome) => retryAfterOf(outcome) ?? -1);
    expect(Math.min(...hints)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...hints)).toBeLessThanOrEqual(30_000);
    expect(outcomes.filter((outcome) => outcome === 'connected').length).toBeGreaterThan(0);
  }, 30_000);

  it('the JS SDK waits as the close asks, then retries: every client of a burst gets in', async () => {
    const clients = Array.from(
      { length: 60 },
      (_, i) => new GatewayClient({ url: `${cluster.instances[0].wsUrl}/ws`, userId: `sdk-${i}`, WebSocket, pingIntervalMs: 0, reconnect: { baseDelayMs: 200, maxDelayMs: 2000 } }),
    );
    const refusedWith = new Set<number>();
    const retryWaits: number[] = [];
    for (const client of clients) {
      client.on('state', (change) => {
        if (change.closeCode !== undefined) refusedWith.add(change.closeCode);
        if (change.closeCode === 1013 && change.retryInMs !== undefined) retryWaits.push(change.retryInMs);
      });
      client.connect();
    }
    try {
      await waitFor(() => clients.every((client) => client.state === 'connected'), 20_000, 'every SDK client connected');
      expect(clients.filter((client) => client.stopReason !== null)).toEqual([]);
      expect(refusedWith).toEqual(new Set([1013]));
      // The server asked for at least 1 s, and the SDK waits at least half of what it asked.
      expect(retryWaits.length).toBeGreaterThan(0);
      expect(Math.min(...retryWaits)).toBeGreaterThanOrEqual(500);
    } finally {
      for (const client of clients) client.disconnect();
    }
  }, 30_000);
});
