import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GrantStore, MemoryGrantStore, RedisGrantStore } from '../../src/tasks/grant.store.js';
import { backendsFor, sleep, startedForThisFile } from './backends.js';

/**
 * The GrantStore contract: who may follow a task without owning it, until when
 * (docs/PROTOCOL.md §8.6, §8.7), the same in memory, on one Redis and on a three-master
 * Redis Cluster. A grant past its expiry is no grant: not read, not revoked.
 */
const backends = backendsFor<GrantStore, void>({
  memory: () => new MemoryGrantStore(),
  redis: (shared) => new RedisGrantStore(shared),
});

describe.each(backends)('GrantStore contract on %s', (_kind, backend) => {
  startedForThisFile(backend);

  it('grants per task and user; granting again replaces the expiry, shorter or longer', async () => {
    const [one, two] = await backend.stores();
    const at = Date.now() + 60_000;
    await one.grant('task-1', 'alice', at);
    expect(await two.expiryOf('task-1', 'alice')).toBe(at);
    expect(await two.expiryOf('task-1', 'bob')).toBeUndefined();
    expect(await two.expiryOf('task-2', 'alice')).toBeUndefined();
    await two.grant('task-1', 'alice', at - 30_000);
    expect(await one.expiryOf('task-1', 'alice')).toBe(at - 30_000);
    await one.grant('task-1', 'alice', at + 30_000);
    expect(await two.expiryOf('task-1', 'alice')).toBe(at + 30_000);
  });

  it('revokes once, wherever it is asked', async () => {
    const stores = await backend.stores();
    await stores[0].grant('task-1', 'alice', Date.now() + 60_000);
    await stores[0].grant('task-1', 'bob', Date.now() + 60_000);
    const revoked = await Promise.all(stores.map((s) => s.revoke('task-1', 'alice')));
    expect(revoked.filter(Boolean)).toHaveLength(1);
    expect(await stores[1].expiryOf('task-1', 'alice')).toBeUndefined();
    expect(await stores[2].revoke('task-1', 'alice')).toBe(false);
    expect(await stores[2].revoke('task-9', 'alice')).toBe(false);
    expect(await stores[1].expiryOf('task-1', 'bob')).toBeDefined();
  });

  it('ends a grant at its expiry: no longer read or revoked, whether or not the task has longer grants', async () => {
    const [one, two] = await backend.stores();
    await one.grant('task-1', 'alice', Date.now() + 300);
    await one.grant('task-1', 'bob', Date.now() + 60_000);
    await one.grant('task-2', 'carol', Date.now() + 300);
    await sleep(400);
    expect(await two.expiryOf('task-1', 'alice')).toBeUndefined();
    expect(await two.expiryOf('task-2', 'carol')).toBeUndefined();
    expect(await two.revoke('task-1', 'alice')).toBe(false);
    expect(await two.revoke('task-2', 'carol')).toBe(false);
    expect(await one.expiryOf('task-1', 'bob')).toBeDefined();
    await two.grant('task-2', 'carol', Date.now() + 60_000);
    expect(await one.revoke('task-2', 'carol')).toBe(true);
  });
});
