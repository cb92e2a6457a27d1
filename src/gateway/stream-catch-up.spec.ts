import { describe, expect, it } from '@jest/globals';
import { HistoryEntry, taskStream, userStream } from '../history/history.store.js';
import { MemoryHistoryStore } from '../history/memory-history.store.js';
import { StreamCatchUp, StreamCatchUpOptions } from './stream-catch-up.js';

const limits = { size: 100, ttlMs: 60_000, metaTtlMs: 600_000, maxBytesPerStream: 1 << 20, maxBytesTotal: 1 << 24 };
const options: StreamCatchUpOptions = { page: { frames: 100, bytes: 1 << 20 }, ttlMs: limits.ttlMs };
const ALICE = userStream('alice');

async function storeWith(frames: number, size = limits.size): Promise<{ store: MemoryHistoryStore; epoch: string }> {
  const store = new MemoryHistoryStore({ ...limits, size });
  const { epoch } = await store.position(ALICE);
  for (let i = 1; i <= frames; i++) store.append(ALICE, `{"i":${i}}`);
  return { store, epoch };
}

/** Runs the catch-up, recording the offsets sent and the pages' pacing waits. */
async function run(catchUp: StreamCatchUp, onPace: () => void = () => {}) {
  const sent: number[] = [];
  let paces = 0;
  const result = await catchUp.finish({
    send: (entry: HistoryEntry) => sent.push(entry.offset),
    paced: async () => {
      paces++;
      onPace();
      return true;
    },
  });
  return { result, sent, paces };
}

describe('StreamCatchUp', () => {
  it('sends everything after the client offset and reports it recovered', async () => {
    const { store, epoch } = await storeWith(5);
    const { result, sent } = await run(new StreamCatchUp(store, ALICE, { epoch, offset: 2 }, undefined, options));
    expect(sent).toEqual([3, 4, 5]);
    expect(result).toMatchObject({ recovered: true, missed: 3, sentFrom: 2, through: 5, position: { epoch, offset: 5 } });
  });

  it('sends only what lies below what the connection was already sent', async () => {
    const { store, epoch } = await storeWith(8);
    const { result, sent } = await run(new StreamCatchUp(store, ALICE, { epoch, offset: 0 }, 5, options));
    expect(sent).toEqual([1, 2, 3, 4, 5]);
    expect(result).toMatchObject({ recovered: true, sentFrom: 0, through: 5 });
  });

  it('a position at or past what was sent already reads nothing and sends nothing', async () => {
    const { store, epoch } = await storeWith(8);
    const { result, sent } = await run(new StreamCatchUp(store, ALICE, { epoch, offset: 0 }, 0, options));
    expect(sent).toEqual([]);
    expect(result).toMatchObject({ recovered: true, missed: 0, sentFrom: 0, position: { offset: 8 } });
    expect((await run(new StreamCatchUp(store, ALICE, { epoch, offset: 8 }, undefined, options))).result).toMatchObject({ recovered: true, missed: 0 });
  });

  it('a trimmed start is not recovered; the connection then has everything after the hole', async () => {
    const { store, epoch } = await storeWith(8, 3);
    const { result, sent } = await run(new StreamCatchUp(store, ALICE, { epoch, offset: 1 }, undefined, options));
    expect(sent).toEqual([6, 7, 8]);
    expect(result).toMatchObject({ recovered: false, missed: 3, sentFrom: 5 });
    // The same position again, from what is now known to be sent: nothing to read.
    const again = await run(new StreamCatchUp(store, ALICE, { epoch, offset: 1 }, 5, options));
    expect(again.sent).toEqual([]);
    expect(again.result).toMatchObject({ recovered: false, missed: 0, sentFrom: 5 });
  });

  it('another epoch or an offset ahead sends nothing and tells nothing about what was sent', async () => {
    const { store, epoch } = await storeWith(3);
    for (const from of [{ epoch: 'other', offset: 1 }, { epoch, offset: 9 }]) {
      const { result, sent } = await run(new StreamCatchUp(store, ALICE, from, undefined, options));
      expect(sent).toEqual([]);
      expect(result).toMatchObject({ recovered: false, sentFrom: undefined, missed: 0 });
    }
  });

  it('reads page by page, waiting for the client before each next page', async () => {
    const { store, epoch } = await storeWith(10);
    const paging = { ...options, page: { frames: 3, bytes: 1 << 20 } };
    const { result, sent, paces } = await run(new StreamCatchUp(store, ALICE, { epoch, offset: 0 }, undefined, paging));
    expect(sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(paces).toBe(3);
    expect(result).toMatchObject({ recovered: true, missed: 10 });
  });

  it('frames published while it pages are left to the live path; frames trimmed meanwhile make it unrecovered', async () => {
    const { store, epoch } = await storeWith(6, 6);
    const paging = { ...options, page: { frames: 2, bytes: 1 << 20 } };
    let published = 0;
    const { result, sent } = await run(new StreamCatchUp(store, ALICE, { epoch, offset: 0 }, undefined, paging), () => {
      // Four frames land while the client reads each page: the ring of six loses four old ones.
      for (let i = 0; i < 4; i++) store.append(ALICE, `{"live":${++published}}`);
    });
    expect(sent).toEqual([1, 2, 5, 6]);
    expect(result).toMatchObject({ recovered: false, through: 6, sentFrom: 4 });
  });

  it('stops when the client is gone', async () => {
    const { store, epoch } = await storeWith(10);
    const catchUp = new StreamCatchUp(store, ALICE, { epoch, offset: 0 }, undefined, { ...options, page: { frames: 3, bytes: 1 << 20 } });
    const sent: number[] = [];
    const result = await catchUp.finish({ send: (entry) => sent.push(entry.offset), paced: async () => false });
    expect(sent).toEqual([1, 2, 3]);
    expect(result.sentFrom).toBeUndefined();
  });

  it('leaves out the task frames the user got on its own stream, and frames past the TTL', async () => {
    const store = new MemoryHistoryStore(limits);
    const task = taskStream('t');
    const { epoch } = await store.position(task);
    store.append(task, '{"n":1}', ['owner']);
    store.append(task, '{"n":2}');
    const forOwner = await run(new StreamCatchUp(store, task, { epoch, offset: 0 }, undefined, { ...options, forUser: 'owner' }));
    expect(forOwner.sent).toEqual([2]);
    expect(forOwner.result).toMatchObject({ recovered: true, missed: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const aged = await run(new StreamCatchUp(store, task, { epoch, offset: 0 }, undefined, { ...options, ttlMs: 1 }));
    expect(aged.sent).toEqual([]);
    expect(aged.result).toMatchObject({ recovered: false, sentFrom: 2 });
  });
});
