import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { MemoryPresence } from '../../src/presence/memory-presence.js';
import { Presence } from '../../src/presence/presence.js';
import { RedisPresence } from '../../src/presence/redis-presence.js';
import { backendsFor, sleep, startedForThisFile } from './backends.js';

/**
 * The Presence contract: a user's open connections wherever they are, oldest first, so
 * WEBSOCKET_MAX_CONNECTIONS_PER_USER holds across the deployment (docs/PROTOCOL.md: past it
 * the user's oldest connection closes with 4008). The same in memory, on one Redis and on a
 * three-master Redis Cluster. Options: how long a user's entries outlive their last join.
 */
const backends = backendsFor<Presence, { ttlMs?: number }>({
  memory: ({ ttlMs }) => new MemoryPresence(randomUUID(), ttlMs),
  redis: (shared, { ttlMs }) => new RedisPresence(shared, randomUUID(), ttlMs),
});

const ids = (picked: Array<{ connectionId: string }>) => picked.map((p) => p.connectionId);

describe.each(backends)('Presence contract on %s', (_kind, backend) => {
  startedForThisFile(backend);

  /**
   * Joins one after another, a few ms apart: the order they joined in is the order they are
   * kept in (within one millisecond Redis orders by member, which names the instance).
   */
  async function joinInTurn(presence: Presence[], userId: string, connections: string[], limit: number) {
    const picked: string[][] = [];
    for (const [i, id] of connections.entries()) {
      picked.push(ids(await presence[i % presence.length].join(userId, id, limit)));
      await sleep(3);
    }
    return picked;
  }

  it('counts connections per user and, past the limit, answers the oldest others, wherever they joined', async () => {
    const presence = await backend.stores({});
    expect(await joinInTurn(presence, 'alice', ['a1', 'a2', 'a3'], 3)).toEqual([[], [], []]);
    expect(await joinInTurn(presence, 'bob', ['b1'], 3)).toEqual([[]]);
    expect(ids(await presence[1].join('alice', 'a4', 3))).toEqual(['a1']);
    await sleep(3);
    expect(ids(await presence[2].join('alice', 'a5', 2))).toEqual(['a2', 'a3']);
    await sleep(3);
    // The ones answered are gone: a later join does not pick them again.
    expect(ids(await presence[0].join('alice', 'a6', 2))).toEqual(['a4']);
  });

  it('names the instance holding each connection it answers', async () => {
    const [one, two] = await backend.stores({});
    await one.join('alice', 'a1', 5);
    await sleep(3);
    const [picked] = await two.join('alice', 'a2', 1);
    expect(picked.connectionId).toBe('a1');
    const [again] = await one.join('alice', 'a3', 1);
    expect(again.connectionId).toBe('a2');
    expect(typeof picked.instance).toBe('string');
    // The same instance's connections carry the same name, whichever instance picked them.
    const [three] = await two.join('alice', 'a4', 1);
    expect(three.connectionId).toBe('a3');
    expect(three.instance).toBe(picked.instance);
  });

  it('never answers the joining connection, and a connection joining again (on its instance) counts once', async () => {
    const [one, two] = await backend.stores({});
    expect(await one.join('alice', 'a1', 1)).toEqual([]);
    expect(await one.join('alice', 'a1', 1)).toEqual([]);
    expect(await one.join('alice', 'a1', 0)).toEqual([]);
    await sleep(3);
    expect(ids(await two.join('alice', 'a2', 1))).toEqual(['a1']);
  });

  it('a connection that left (told by its instance) is not counted nor answered', async () => {
    const [one, two] = await backend.stores({});
    await joinInTurn([one], 'alice', ['a1', 'a2'], 2);
    await one.leave('alice', 'a1');
    await two.leave('alice', 'never-joined');
    await two.leave('nobody', 'x');
    expect(await one.join('alice', 'a3', 2)).toEqual([]);
    expect(ids(await one.join('alice', 'a4', 2))).toEqual(['a2']);
  });

  it('concurrent joins from three instances never pick a connection twice and leave the user at the limit', async () => {
    const presence = await backend.stores({});
    const connections = Array.from({ length: 12 }, (_, i) => `c${i}`);
    const picked = (await Promise.all(connections.map((id, i) => presence[i % 3].join('alice', id, 4)))).flatMap(ids);
    expect(new Set(picked).size).toBe(picked.length);
    expect(picked).toHaveLength(8);
    // Whatever is left is exactly four connections: a fifth join picks one of them.
    const left = connections.filter((id) => !picked.includes(id));
    expect(left).toHaveLength(4);
    const next = ids(await presence[0].join('alice', 'late', 4));
    expect(next).toHaveLength(1);
    expect(left).toContain(next[0]);
  });

  it('a user\'s entries go together once the user has not joined for the presence lifetime; a join renews them', async () => {
    const [one, two] = await backend.stores({ ttlMs: 500 });
    await joinInTurn([one], 'alice', ['a1', 'a2'], 5);
    await sleep(300);
    await two.join('bob', 'b1', 5);
    await sleep(300);
    expect(await two.join('alice', 'a3', 1)).toEqual([]);
    expect(ids(await two.join('bob', 'b2', 1))).toEqual(['b1']);
  });
});
