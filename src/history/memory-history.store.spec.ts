import { describe, expect, it } from '@jest/globals';
import { BROADCAST_STREAM, taskStream, userStream } from './history.store.js';
import { MemoryHistoryStore } from './memory-history.store.js';

const limits = { size: 3, ttlMs: 60_000, metaTtlMs: 600_000, maxBytesPerStream: 1 << 20, maxBytesTotal: 1 << 24 };
const page = { frames: 100, bytes: 1 << 20 };

const offsetsOf = async (store: MemoryHistoryStore, from: number, through: number | null = null, limit = page) =>
  (await store.readPage(userStream('a'), from, through, limit)).entries.map((entry) => entry.offset);

describe('MemoryHistoryStore', () => {
  it('numbers frames per stream and writes the offset into the frame', () => {
    const store = new MemoryHistoryStore(limits);
    expect(store.append(userStream('a'), '{"type":"x"}')).toEqual({ offset: 1, json: '{"type":"x","offset":1}' });
    expect(store.append(userStream('a'), '{}').json).toBe('{"offset":2}');
    expect(store.append(taskStream('t'), '{"type":"y"}').json).toBe('{"type":"y","task_offset":1}');
  });

  it('reads the kept frames between two offsets, in bounded pages, with the position', async () => {
    const store = new MemoryHistoryStore(limits);
    const { epoch } = await store.position(userStream('a'));
    for (let i = 0; i < 5; i++) store.append(userStream('a'), `{"i":${i}}`);
    expect(await store.readPage(userStream('a'), 1, null, page)).toMatchObject({ position: { epoch, offset: 5 } });
    expect(await offsetsOf(store, 1)).toEqual([3, 4, 5]);
    expect(await offsetsOf(store, 4)).toEqual([4, 5]);
    expect(await offsetsOf(store, 3, 4)).toEqual([3, 4]);
    expect(await offsetsOf(store, 5, 4)).toEqual([]);
    expect(await offsetsOf(store, 1, null, { frames: 2, bytes: 1 << 20 })).toEqual([3, 4]);
    // A page stops once its bytes are in, and always holds one frame.
    expect(await offsetsOf(store, 1, null, { frames: 100, bytes: 1 })).toEqual([3]);
  });

  it('keeps a stream within its byte bound, dropping its oldest frames', async () => {
    const store = new MemoryHistoryStore({ ...limits, size: 100, maxBytesPerStream: 2500 });
    const kilobyte = `{"pad":"${'x'.repeat(1000)}"}`;
    for (let i = 0; i < 5; i++) store.append(userStream('a'), kilobyte);
    expect(await offsetsOf(store, 1)).toEqual([4, 5]);
    expect(store.totalBytes).toBeLessThanOrEqual(2500);
    // A frame larger than the bound is not kept at all.
    store.append(userStream('a'), `{"pad":"${'x'.repeat(3000)}"}`);
    expect(await offsetsOf(store, 1)).toEqual([]);
    expect(store.totalBytes).toBe(0);
  });

  it('keeps all streams within the total byte bound, the oldest frame of all going first', async () => {
    const store = new MemoryHistoryStore({ ...limits, size: 100, maxBytesTotal: 5000 });
    const kilobyte = `{"pad":"${'x'.repeat(1000)}"}`;
    store.append(userStream('old'), kilobyte);
    for (let i = 0; i < 3; i++) store.append(userStream('a'), kilobyte);
    store.append(BROADCAST_STREAM, kilobyte);
    expect((await store.readPage(userStream('old'), 1, null, page)).entries).toEqual([]);
    expect(await offsetsOf(store, 1)).toEqual([1, 2, 3]);
    for (let i = 0; i < 1000; i++) store.append(userStream(`u${i}`), kilobyte);
    expect(store.totalBytes).toBeLessThanOrEqual(5000);
    expect(await offsetsOf(store, 1)).toEqual([]);
    expect((await store.readPage(userStream('u999'), 1, null, page)).entries.map((entry) => entry.offset)).toEqual([1]);
  });

  it('forgets idle streams and drops the frames of streams idle past the TTL', async () => {
    const store = new MemoryHistoryStore(limits);
    store.append(taskStream('t'), '{"n":1}', ['owner']);
    expect((await store.readPage(taskStream('t'), 1, null, page)).entries[0]).toMatchObject({ offset: 1, skipUsers: ['owner'] });
    store.sweep(Date.now() + limits.ttlMs + 1);
    expect(store.totalBytes).toBe(0);
    expect(store.streamCount).toBe(1);
    store.sweep(Date.now() + limits.metaTtlMs + 1);
    expect(store.streamCount).toBe(0);
  });
});
