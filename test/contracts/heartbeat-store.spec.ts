import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Heartbeat, HeartbeatStore, MemoryHeartbeatStore } from '../../src/tasks/heartbeat.store.js';
import { RedisHeartbeatStore } from '../../src/tasks/redis-heartbeat.store.js';
import { backendsFor, sleep, startedForThisFile } from './backends.js';

/**
 * The HeartbeatStore contract: one heartbeat per task, beats counted by its owner only, and
 * a heartbeat past its end is gone (docs/PROTOCOL.md §8.8, §8.9), the same in memory, on
 * one Redis and on a three-master Redis Cluster. Taking over a heartbeat whose owner died
 * exists only where there are other instances: here, that a live one is never taken.
 */
const backends = backendsFor<HeartbeatStore, void>({
  memory: () => new MemoryHeartbeatStore(),
  redis: (shared) => new RedisHeartbeatStore(shared),
});

const LEASE_MS = 60_000;

function heartbeat(overrides: Partial<Heartbeat> = {}): Heartbeat {
  const now = Date.now();
  return {
    id: randomUUID(),
    userId: 'alice',
    taskId: 'task-1',
    intervalSeconds: 30,
    message: 'still running',
    startedAt: now,
    endsAt: now + 60_000,
    beats: 0,
    owner: 'instance-a',
    ...overrides,
  };
}

describe.each(backends)('HeartbeatStore contract on %s', (_kind, backend) => {
  startedForThisFile(backend);

  it('keeps one heartbeat per task: a new one replaces it, and the old id is gone', async () => {
    const [one, two] = await backend.stores();
    const first = heartbeat();
    expect(await one.start(first, LEASE_MS)).toBeUndefined();
    expect(await two.get(first.id)).toEqual(first);
    expect(await two.forTask('task-1')).toEqual(first);
    expect(await two.forTask('task-2')).toBeUndefined();
    const second = heartbeat({ userId: 'bob', owner: 'instance-b' });
    expect(await two.start(second, LEASE_MS)).toEqual(first);
    expect(await one.get(first.id)).toBeUndefined();
    expect(await one.forTask('task-1')).toEqual(second);
    expect(await one.stop(first.id)).toBeUndefined();
    expect(await one.beat(first, LEASE_MS)).toBeUndefined();
    expect(await one.forTask('task-1')).toEqual(second);
  });

  it('counts beats of its owner only, wherever they are taken', async () => {
    const stores = await backend.stores();
    const running = heartbeat();
    await stores[0].start(running, LEASE_MS);
    expect(await stores[1].beat(running, LEASE_MS)).toEqual({ ...running, beats: 1 });
    const beats = await Promise.all(stores.map((s) => s.beat(running, LEASE_MS)));
    expect(beats.map((b) => b?.beats).sort()).toEqual([2, 3, 4]);
    expect(await stores[2].beat({ ...running, owner: 'instance-x' }, LEASE_MS)).toBeUndefined();
    expect((await stores[0].get(running.id))?.beats).toBe(4);
  });

  it('stops once: the heartbeat is gone and its beats end', async () => {
    const [one, two, three] = await backend.stores();
    const running = heartbeat();
    await one.start(running, LEASE_MS);
    const stops = await Promise.all([one.stop(running.id), two.stop(running.id), three.stop(running.id)]);
    expect(stops.filter((s) => s !== undefined)).toEqual([running]);
    expect(await two.get(running.id)).toBeUndefined();
    expect(await two.forTask('task-1')).toBeUndefined();
    expect(await three.beat(running, LEASE_MS)).toBeUndefined();
    expect(await one.stop('unknown')).toBeUndefined();
  });

  it('leaves one heartbeat when three instances start one for the task at once', async () => {
    const stores = await backend.stores();
    const started = stores.map((_, i) => heartbeat({ owner: `instance-${i}` }));
    const replaced = await Promise.all(stores.map((s, i) => s.start(started[i], LEASE_MS)));
    expect(replaced.filter((r) => r === undefined)).toHaveLength(1);
    const current = await stores[0].forTask('task-1');
    const found = await Promise.all(started.map((h) => stores[1].get(h.id)));
    expect(found.filter((h) => h !== undefined)).toEqual([current]);
  });

  it('ends a heartbeat at its end: gone for reads, beats, stops and replacements', async () => {
    const [one, two] = await backend.stores();
    const short = heartbeat({ endsAt: Date.now() + 300 });
    await one.start(short, LEASE_MS);
    expect(await two.get(short.id)).toEqual(short);
    await sleep(400);
    expect(await two.get(short.id)).toBeUndefined();
    expect(await two.forTask('task-1')).toBeUndefined();
    expect(await one.beat(short, LEASE_MS)).toBeUndefined();
    expect(await two.stop(short.id)).toBeUndefined();
    expect(await one.start(heartbeat(), LEASE_MS)).toBeUndefined();
  });

  it('never hands a heartbeat whose lease is live to another instance', async () => {
    const [one, two] = await backend.stores();
    await one.start(heartbeat(), LEASE_MS);
    expect(await two.claimOrphans('instance-b', () => LEASE_MS)).toEqual([]);
  });

  it('hands out values: changing what it returned changes nothing stored, and a beat changes nothing handed out', async () => {
    const [store] = await backend.stores();
    const running = heartbeat();
    await store.start(running, LEASE_MS);
    running.beats = 7;
    running.owner = 'instance-x';
    const read = (await store.get(running.id)) as Heartbeat;
    read.beats = 9;
    ((await store.forTask('task-1')) as Heartbeat).owner = 'instance-y';
    const fresh = (await store.get(running.id)) as Heartbeat;
    expect(fresh).toMatchObject({ beats: 0, owner: 'instance-a' });
    const beaten = await store.beat({ ...fresh }, LEASE_MS);
    expect(fresh.beats).toBe(0);
    if (beaten) beaten.beats = 99;
    expect((await store.get(running.id))?.beats).toBe(1);
  });
});
