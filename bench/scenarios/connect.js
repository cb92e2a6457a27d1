// Opening the benchmark's clients, spread over the load generator processes.
import { now } from '../lib/stats.js';

/** Source addresses for `count` clients: none (the default 127.0.0.1) while one suffices. */
export function sourceAddresses(count, perAddress) {
  if (count <= perAddress) return null;
  return Array.from({ length: Math.ceil(count / perAddress) }, (_, i) => `127.0.0.${2 + i}`);
}

/**
 * Opens `count` clients named `${prefix}-${i}`, split into contiguous blocks over the
 * workers. Resolves to { opened, failed, firstError, ms, perWorker }.
 */
export async function connectClients(workers, server, { prefix, count, cfg }) {
  const userIds = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const localAddresses = sourceAddresses(count, cfg.clientsPerAddress);
  const block = Math.ceil(count / workers.length);
  const started = now();
  const results = await Promise.all(
    workers.map((worker, w) =>
      worker.call(
        'connect',
        {
          kind: server.def.client,
          baseUrls: server.baseUrls,
          userIds: userIds.slice(w * block, (w + 1) * block),
          firstIndex: w * block,
          localAddresses,
          perAddress: cfg.clientsPerAddress,
          concurrency: cfg.connectConcurrency,
          timeoutMs: 20_000,
        },
        cfg.connectTimeoutMs,
      ),
    ),
  );
  return {
    opened: sum(results, 'opened'),
    failed: sum(results, 'failed'),
    firstError: results.find((r) => r.firstError)?.firstError,
    ms: now() - started,
    perWorker: results.map((r) => r.opened),
  };
}

const sum = (rows, key) => rows.reduce((total, row) => total + row[key], 0);

/** Opens one client per user `${prefix}-${i}` on one worker; returns the user ids or throws. */
export async function connectUsers(worker, server, { prefix, count, cfg }) {
  const opened = await connectClients([worker], server, { prefix, count, cfg });
  if (opened.failed > 0) throw new Error(`${opened.failed} clients failed to connect: ${opened.firstError}`);
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}
