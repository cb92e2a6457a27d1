import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { GatewayError } from '../protocol/error-code.enum.js';
import type { RedisClient } from './redis-connection.js';
import { ReplicationFence } from './replication-fence.js';

/** A connection whose WAITs answer when the test says so, with the replica count it says. */
function fakeConnection() {
  const pending: Array<(replicas: number | Error) => void> = [];
  const connection = {
    pipeline: () => ({
      publish: () => ({
        wait: () => ({
          exec: () =>
            new Promise((resolve) =>
              pending.push((answer) => resolve(answer instanceof Error ? [[answer, null], [null, null]] : [[null, 0], [null, answer]])),
            ),
        }),
      }),
    }),
  } as unknown as RedisClient;
  return { connection, pending };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

// A failing fence logs its warning; the test output keeps only results.
beforeAll(() => Logger.overrideLogger(false));
afterAll(() => Logger.overrideLogger(['error', 'warn', 'log']));

describe('ReplicationFence', () => {
  it('callers arriving while a WAIT is out share the next one, not the one that may predate their write', async () => {
    const { connection, pending } = fakeConnection();
    const fence = new ReplicationFence(connection, { replicas: 1, timeoutMs: 100, channel: 'fence' });
    const done: string[] = [];
    void fence.pass().then(() => done.push('first'));
    void fence.pass().then(() => done.push('second'));
    void fence.pass().then(() => done.push('third'));
    await settle();
    expect(pending).toHaveLength(1);
    pending.shift()!(1);
    await settle();
    expect(done).toEqual(['first']);
    expect(pending).toHaveLength(1); // one WAIT for the two that arrived meanwhile
    pending.shift()!(1);
    await settle();
    expect(done).toEqual(['first', 'second', 'third']);
  });

  it('fewer replicas than asked, or a failed WAIT, is a 503 unavailable with Retry-After', async () => {
    const { connection, pending } = fakeConnection();
    const fence = new ReplicationFence(connection, { replicas: 2, timeoutMs: 100, channel: 'fence' });
    const short = fence.pass();
    await settle();
    pending.shift()!(1);
    await expect(short).rejects.toMatchObject({ code: 'unavailable', retryAfterSeconds: expect.any(Number) });
    const failed = fence.pass();
    await settle();
    pending.shift()!(new Error('Connection is closed.'));
    await expect(failed).rejects.toBeInstanceOf(GatewayError);
  });
});
