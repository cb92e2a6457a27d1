import { describe, expect, it } from '@jest/globals';
import { taskStream, userStream } from './history.store.js';
import { MemoryHistoryStore } from './memory-history.store.js';

const limits = { size: 3, ttlMs: 60_000, metaTtlMs: 600_000 };

describe('MemoryHistoryStore', () => {
  it('numbers frames per stream and writes the offset into the frame', () => {
    const store = new MemoryHistoryStore(limits);
    expect(store.appendNow(userStream('a'), '{"type":"x"}')).toEqual({ offset: 1, json: '{"type":"x","offset":1}' });
    expect(store.appendNow(userStream('a'), '{}').json).toBe('{"offset":2}');
    expect(store.appendNow(taskStream('t'), '{"type":"y"}').json).toBe('{"type":"y","task_offset":1}');
  });

  it('recovers everything after the client position while the ring holds it', async () => {
    const store = new MemoryHistoryStore(limits);
    const { epoch } = await store.position(userStream('a'));
    for (let i = 0; i < 5; i++) store.appendNow(userStream('a'), `{"i":${i}}`);
    const complete = await store.recover(userStream('a'), epoch, 2, undefined);
    expect(complete.recovered).toBe(true);
    expect(complete.frames.map((f) => f.offset)).toEqual([3, 4, 5]);
    const gap = await store.recover(userStream('a'), epoch, 1, undefined);
    expect(gap.recovered).toBe(false);
    expect(gap.frames.map((f) => f.offset)).toEqual([3, 4, 5]);
    expect((await store.recover(userStream('a'), 'other', 5, undefined)).recovered).toBe(false);
    expect((await store.recover(userStream('a'), epoch, 9, undefined)).recovered).toBe(false);
    expect(await store.recover(userStream('a'), epoch, 5, undefined)).toMatchObject({ recovered: true, frames: [] });
  });

  it('leaves out task frames the user got on its own stream, and forgets idle streams', async () => {
    const store = new MemoryHistoryStore(limits);
    const { epoch } = await store.position(taskStream('t'));
    store.appendNow(taskStream('t'), '{"n":1}', ['owner']);
    store.appendNow(taskStream('t'), '{"n":2}');
    expect((await store.recover(taskStream('t'), epoch, 0, 'owner')).frames.map((f) => f.offset)).toEqual([2]);
    expect((await store.recover(taskStream('t'), epoch, 0, 'watcher')).frames.map((f) => f.offset)).toEqual([1, 2]);
    store.sweep(Date.now() + limits.metaTtlMs + 1);
    expect(store.streamCount).toBe(0);
  });

  it('does not recover frames older than the TTL', async () => {
    const store = new MemoryHistoryStore({ ...limits, ttlMs: 1 });
    const { epoch } = await store.position(userStream('a'));
    store.appendNow(userStream('a'), '{}');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await store.recover(userStream('a'), epoch, 0, undefined)).toMatchObject({ recovered: false, frames: [] });
  });
});
