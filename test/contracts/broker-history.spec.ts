import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Arrival, Broker, StreamFrame } from '../../src/broker/broker.js';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { RedisBroker } from '../../src/broker/redis-broker.js';
import { StreamCatchUp } from '../../src/gateway/stream-catch-up.js';
import { BROADCAST_STREAM, HistoryEntry, HistoryLimits, HistoryStore, StreamRef, taskStream, userStream } from '../../src/history/history.store.js';
import { MemoryHistoryStore } from '../../src/history/memory-history.store.js';
import { RedisHistoryStore } from '../../src/history/redis-history.store.js';
import { backendsFor, sleep, startedForThisFile } from './backends.js';

/**
 * The Broker and HistoryStore contract (docs/PROTOCOL.md §1.8): publishing a frame gives it
 * the next offset of its stream, keeps it in the stream's bounded history and brings it,
 * once and in offset order, to the instances with a subscriber of the stream; a catch-up
 * decides "recovered" from the same history. The same in memory, on one Redis and on a
 * three-master Redis Cluster. An instance here is a broker and a history store on one
 * connection; memory has one of each, shared.
 */
interface Instance {
  broker: Broker;
  history: HistoryStore;
}

const LIMITS: HistoryLimits = { size: 50, ttlMs: 60_000, metaTtlMs: 120_000, maxBytesPerStream: 1_000_000, maxBytesTotal: 10_000_000 };

const backends = backendsFor<Instance, HistoryLimits>({
  memory: (limits) => {
    const history = new MemoryHistoryStore(limits);
    return { broker: new MemoryBroker(limits.size > 0 ? history : null), history };
  },
  redis: (shared, limits) => ({ broker: new RedisBroker(shared, randomUUID(), limits.size > 0 ? limits : null), history: new RedisHistoryStore(shared, limits) }),
});

const PAGE = { frames: 100, bytes: 1_000_000 };

/** Subscribes the instance to the stream and collects what arrives there. */
async function listen(instance: Instance, stream: StreamRef): Promise<Arrival[]> {
  const arrivals: Arrival[] = [];
  instance.broker.onArrival((arrival) => {
    arrivals.push(arrival);
    return 1;
  });
  await instance.broker.subscribe(stream);
  return arrivals;
}

const publish = (instance: Instance, stream: StreamRef, json: string, extra: { skipUsers?: string[]; exceptConnectionId?: string } = {}) =>
  instance.broker.publish({ stream, json, acceptedAt: Date.now(), ...extra });

const offsetsOf = (arrivals: Arrival[]) => arrivals.map((a) => (a.frame as StreamFrame).offset);

/** A catch-up from the client's position: what it sent and whether it says recovered. */
async function catchUp(history: HistoryStore, stream: StreamRef, from: { epoch: string; offset: number }, ttlMs = LIMITS.ttlMs) {
  const sent: HistoryEntry[] = [];
  const result = await new StreamCatchUp(history, stream, from, undefined, { page: { frames: 2, bytes: 1_000_000 }, ttlMs }).finish({ send: (e) => sent.push(e), paced: async () => true });
  return { recovered: result.recovered, sent: sent.map((e) => e.offset), position: result.position };
}

describe.each(backends)('Broker and HistoryStore contract on %s', (_kind, backend) => {
  startedForThisFile(backend);

  it('an unknown stream is at offset 0 in one epoch, whichever instance asks', async () => {
    const [a, b, c] = await backend.stores(LIMITS);
    const first = await a.history.position(userStream('alice'));
    expect(first.offset).toBe(0);
    expect(first.epoch).toMatch(/^\S{1,64}$/);
    expect(await b.history.position(userStream('alice'))).toEqual(first);
    expect(await c.history.position(userStream('alice'))).toEqual(first);
  });

  it('publishing numbers each stream on its own, writes the offset into the frame under its stream\'s field, and keeps the epoch', async () => {
    const [a, b, c] = await backend.stores(LIMITS);
    const epoch = (await b.history.position(userStream('alice'))).epoch;
    await publish(a, userStream('alice'), '{"type":"x","n":1}');
    await publish(c, userStream('alice'), '{"type":"x","n":2}');
    await publish(a, taskStream('t1'), '{"type":"x"}');
    await publish(b, BROADCAST_STREAM, '{}');
    expect(await b.history.position(userStream('alice'))).toEqual({ epoch, offset: 2 });
    const page = await c.history.readPage(userStream('alice'), 1, null, PAGE);
    expect(page.entries.map((e) => e.json)).toEqual(['{"type":"x","n":1,"offset":1}', '{"type":"x","n":2,"offset":2}']);
    expect((await a.history.readPage(taskStream('t1'), 1, null, PAGE)).entries.map((e) => e.json)).toEqual(['{"type":"x","task_offset":1}']);
    expect((await a.history.readPage(BROADCAST_STREAM, 1, null, PAGE)).entries.map((e) => e.json)).toEqual(['{"broadcast_offset":1}']);
    expect((await a.history.position(userStream('bob'))).offset).toBe(0);
  });

  it('a publication reaches a subscriber on another instance once, in offset order, as the history keeps it', async () => {
    const [a, b, c] = await backend.stores(LIMITS);
    const arrivals = await listen(b, userStream('alice'));
    await Promise.all(Array.from({ length: 30 }, (_, i) => publish(i % 2 ? a : c, userStream('alice'), `{"n":${i}}`)));
    await waitForCount(arrivals, 30);
    await sleep(50);
    expect(offsetsOf(arrivals)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const kept = await a.history.readPage(userStream('alice'), 1, null, PAGE);
    expect(arrivals.map((x) => (x.frame as StreamFrame).json)).toEqual(kept.entries.map((e) => e.json));
    expect(arrivals.every((x) => x.stream.kind === 'user' && x.stream.id === 'alice' && (x.frame as StreamFrame).stream === 'u')).toBe(true);
  });

  // PROTOCOL §10: `delivered` counts the instances holding a connection of the audience; 0
  // means nobody received it. On a Redis Cluster this rests on sharded pub/sub: a plain
  // PUBLISH answers only the subscribers of the node it ran on.
  it('a publication answers how many instances it reached', async () => {
    const [a, b, c] = await backend.stores(LIMITS);
    await listen(b, userStream('alice'));
    expect(await publish(a, userStream('alice'), '{"n":1}')).toBe(1);
    // In memory the three stores are one instance's.
    if (backend.kind === 'memory') return;
    await listen(c, userStream('alice'));
    expect(await publish(a, userStream('alice'), '{"n":2}')).toBe(2);
    expect(await publish(a, taskStream('nobody-listens'), '{"n":3}')).toBe(0);
  });

  it('a page hands out values: changing what was read changes nothing kept', async () => {
    const [a, b] = await backend.stores(LIMITS);
    await publish(a, taskStream('t1'), '{"n":1}', { skipUsers: ['alice'] });
    const [entry] = (await b.history.readPage(taskStream('t1'), 1, null, PAGE)).entries;
    entry.json = 'changed';
    entry.offset = 99;
    (entry.skipUsers as string[]).push('mallory');
    expect((await b.history.readPage(taskStream('t1'), 1, null, PAGE)).entries).toEqual([expect.objectContaining({ offset: 1, json: '{"n":1,"task_offset":1}', skipUsers: ['alice'] })]);
  });

  it('a task frame carries the users to skip and the connection to leave out, to the subscriber and into the history', async () => {
    const [a, b] = await backend.stores(LIMITS);
    const arrivals = await listen(b, taskStream('t1'));
    await publish(a, taskStream('t1'), '{"n":1}', { skipUsers: ['alice', 'bob'], exceptConnectionId: 'conn-1' });
    await waitForCount(arrivals, 1);
    expect(arrivals[0]).toMatchObject({ skipUsers: ['alice', 'bob'], exceptConnectionId: 'conn-1' });
    expect((arrivals[0].frame as StreamFrame).stream).toBe('t:t1');
    expect((await a.history.readPage(taskStream('t1'), 1, null, PAGE)).entries[0].skipUsers).toEqual(['alice', 'bob']);
  });

  it('with history off, frames are published as they are, without offsets', async () => {
    const [a, b] = await backend.stores({ ...LIMITS, size: 0 });
    const arrivals = await listen(b, userStream('alice'));
    await publish(a, userStream('alice'), '{"n":1}');
    await waitForCount(arrivals, 1);
    expect(arrivals[0].frame).toBe('{"n":1}');
  });

  it('keeps the last `size` frames; a page reads from where it is asked, within its limits', async () => {
    const [a, b] = await backend.stores({ ...LIMITS, size: 5 });
    for (let i = 1; i <= 8; i++) await publish(a, userStream('alice'), `{"n":${i}}`);
    const all = await b.history.readPage(userStream('alice'), 1, null, PAGE);
    expect(all.position.offset).toBe(8);
    expect(all.entries.map((e) => e.offset)).toEqual([4, 5, 6, 7, 8]);
    expect((await b.history.readPage(userStream('alice'), 5, 6, PAGE)).entries.map((e) => e.offset)).toEqual([5, 6]);
    expect((await b.history.readPage(userStream('alice'), 4, null, { frames: 2, bytes: 1_000_000 })).entries.map((e) => e.offset)).toEqual([4, 5]);
    expect((await b.history.readPage(userStream('alice'), 4, null, { frames: 100, bytes: 1 })).entries.map((e) => e.offset)).toEqual([4]);
    expect((await b.history.readPage(userStream('alice'), 9, null, PAGE)).entries).toEqual([]);
  });

  it('keeps at most maxBytesPerStream bytes of a stream, the oldest going first', async () => {
    const frame = (n: number) => `{"pad":"${'x'.repeat(100)}","n":${n}}`;
    const bytes = (frame(1).length - 1 + ',"offset":1}'.length) * 3;
    const [a, b] = await backend.stores({ ...LIMITS, maxBytesPerStream: bytes });
    for (let i = 1; i <= 6; i++) await publish(a, userStream('alice'), frame(i));
    const page = await b.history.readPage(userStream('alice'), 1, null, PAGE);
    expect(page.entries.map((e) => e.offset)).toEqual([4, 5, 6]);
    expect(page.position.offset).toBe(6);
  });

  it('recovery: the same position recovers, a trimmed or foreign one does not, an offset ahead does not', async () => {
    const [a, b] = await backend.stores({ ...LIMITS, size: 5 });
    const { epoch } = await a.history.position(userStream('alice'));
    for (let i = 1; i <= 4; i++) await publish(a, userStream('alice'), `{"n":${i}}`);
    expect(await catchUp(b.history, userStream('alice'), { epoch, offset: 1 })).toMatchObject({ recovered: true, sent: [2, 3, 4] });
    expect(await catchUp(b.history, userStream('alice'), { epoch, offset: 4 })).toMatchObject({ recovered: true, sent: [] });
    for (let i = 5; i <= 8; i++) await publish(a, userStream('alice'), `{"n":${i}}`);
    expect(await catchUp(b.history, userStream('alice'), { epoch, offset: 1 })).toMatchObject({ recovered: false, sent: [4, 5, 6, 7, 8] });
    expect(await catchUp(b.history, userStream('alice'), { epoch: 'other', offset: 1 })).toMatchObject({ recovered: false, sent: [] });
    expect(await catchUp(b.history, userStream('alice'), { epoch, offset: 9 })).toMatchObject({ recovered: false, sent: [] });
  });

  it('frames go HISTORY_TTL after the stream\'s last frame; its epoch and offset stay', async () => {
    const [a, b] = await backend.stores({ ...LIMITS, ttlMs: 1000 });
    const { epoch } = await a.history.position(userStream('alice'));
    await publish(a, userStream('alice'), '{"n":1}');
    await publish(a, userStream('alice'), '{"n":2}');
    await sleep(1300);
    const page = await b.history.readPage(userStream('alice'), 1, null, PAGE);
    expect(page.entries).toEqual([]);
    expect(page.position).toEqual({ epoch, offset: 2 });
    expect(await catchUp(b.history, userStream('alice'), { epoch, offset: 0 }, 1000)).toMatchObject({ recovered: false, sent: [] });
    await publish(a, userStream('alice'), '{"n":3}');
    expect((await b.history.readPage(userStream('alice'), 1, null, PAGE)).entries.map((e) => e.offset)).toEqual([3]);
  });

  it('a stream unused for HISTORY_META_TTL starts again in a new epoch; any use keeps it', async () => {
    const [a, b] = await backend.stores({ ...LIMITS, ttlMs: 1000, metaTtlMs: 2000 });
    await publish(a, userStream('alice'), '{"n":1}');
    await publish(a, userStream('bob'), '{"n":1}');
    const alice = await a.history.position(userStream('alice'));
    const bob = await a.history.position(userStream('bob'));
    await sleep(1200);
    // Reading bob's position is a use of bob's stream.
    expect(await b.history.position(userStream('bob'))).toEqual(bob);
    await sleep(1200);
    expect(await b.history.position(userStream('bob'))).toEqual(bob);
    const fresh = await b.history.position(userStream('alice'));
    expect(fresh.offset).toBe(0);
    expect(fresh.epoch).not.toBe(alice.epoch);
  });
});

async function waitForCount(list: unknown[], count: number): Promise<void> {
  for (let i = 0; i < 200 && list.length < count; i++) await sleep(10);
  expect(list).toHaveLength(count);
}
