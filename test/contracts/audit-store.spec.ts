import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditEventKind } from '../../src/audit/audit-event.js';
import { MAX_EVENTS_PER_CONFIRMATION } from '../../src/audit/audit-event.js';
import type { AuditFilter, AuditRetention, AuditStore } from '../../src/audit/audit.store.js';
import { MemoryAuditStore } from '../../src/audit/memory-audit.store.js';
import { RedisAuditStore } from '../../src/audit/redis-audit.store.js';
import { backendsFor, sleep, startedForThisFile } from './backends.js';

/**
 * The AuditStore contract (docs/AUDIT.md): append-only events, one confirmation's trail in
 * the order things happened whoever wrote them, the deployment's events in the order
 * written with filters and a cursor that neither skips nor repeats while others append,
 * and retention; the same in memory, on one Redis and on a three-master Redis Cluster.
 */
const LONG: AuditRetention = { retentionMs: 30 * 86_400_000, maxEvents: 100_000 };

const backends = backendsFor<AuditStore, AuditRetention>({
  memory: (retention) => new MemoryAuditStore(retention),
  redis: (shared, retention) => new RedisAuditStore(shared, retention),
});

let clock = Date.now();
/** Distinct, increasing event times (ms), as three instances on one clock would give. */
const tick = () => (clock = Math.max(clock + 1, Date.now()));

function event(kind: AuditEventKind | string, callbackId: string, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    event_id: randomUUID(),
    kind: kind as AuditEventKind,
    callback_id: callbackId,
    user_id: 'alice',
    task_id: 'task-1',
    at: tick() / 1000,
    instance_id: 'instance-a',
    details: kind === 'delivered' ? { connections: 2 } : ({ note: kind } as never),
    ...extra,
  };
}

/** Every page of a query, following next_cursor. */
async function allPages(store: AuditStore, filter: AuditFilter, limit: number): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await store.query(filter, cursor, limit);
    expect(page.events.length).toBeLessThanOrEqual(limit);
    events.push(...page.events);
    if (page.nextCursor === null) return events;
    cursor = page.nextCursor;
  }
  throw new Error('more than 1000 pages');
}

const ids = (events: AuditEvent[]) => events.map((e) => e.event_id);

describe.each(backends)('AuditStore contract on %s', (kind, backend) => {
  startedForThisFile(backend);

  it('gives every instance one confirmation\'s events in order, written by three instances', async () => {
    const [a, b, c] = await backend.stores(LONG);
    const created = event('created', 'cb-1', { instance_id: 'a' });
    const delivered = event('delivered', 'cb-1', { instance_id: 'a' });
    const answered = event('answered', 'cb-1', { instance_id: 'b', details: { answered_by: 'alice', connection_id: 'c1', proceed: true, option: null, data: { rows: [1, 2] }, feedback: '好' } });
    const settled = event('settled', 'cb-1', { instance_id: 'b', at: answered.at, details: { state: 'confirmed', proceed: true } });
    const webhook = event('webhook_attempt', 'cb-1', { instance_id: 'c' });
    await a.append([created, delivered]);
    await b.append([answered, settled]);
    await c.append([webhook]);
    await b.append([event('created', 'cb-2')]);
    for (const store of [a, b, c]) expect(await store.trail('cb-1')).toEqual([created, delivered, answered, settled, webhook]);
    expect(await c.trail('nobody')).toEqual([]);
  });

  it('orders a trail by when things happened, not by which instance wrote first; a retried write counts once', async () => {
    const [a, b] = await backend.stores(LONG);
    const created = event('created', 'cb-1');
    const delivered = event('delivered', 'cb-1');
    const answered = event('answered', 'cb-1', { instance_id: 'b' });
    // b's batch reaches the store before a's (a's flush came later).
    await b.append([answered]);
    await a.append([created, delivered]);
    await a.append([delivered]);
    expect(ids(await b.trail('cb-1'))).toEqual(ids([created, delivered, answered]));
  });

  it('keeps the trails of ids that differ only in key characters apart', async () => {
    const [a, b] = await backend.stores(LONG);
    const hostile = ['x{y}:z', 'x%7by%7d%3az', 'x:{y}', '{audit}', '%'];
    for (const id of hostile) await a.append([event('created', id)]);
    for (const id of hostile) expect((await b.trail(id)).map((e) => e.callback_id)).toEqual([id]);
  });

  it('hands out values: changing what a read returned changes nothing stored', async () => {
    const [a, b] = await backend.stores(LONG);
    await a.append([event('created', 'cb-1')]);
    const [read] = await a.trail('cb-1');
    (read.details as Record<string, unknown>).note = 'changed';
    read.kind = 'settled';
    expect((await b.trail('cb-1'))[0]).toMatchObject({ kind: 'created', details: { note: 'created' } });
  });

  it('filters by user, task and time range, in the order written', async () => {
    const [a, b, c] = await backend.stores(LONG);
    const start = tick();
    const written = [
      event('created', 'cb-1', { user_id: 'alice', task_id: 't1' }),
      event('created', 'cb-2', { user_id: 'bob', task_id: 't1' }),
      event('created', 'cb-3', { user_id: 'alice', task_id: 't2' }),
      event('delivered', 'cb-1', { user_id: 'alice', task_id: 't1' }),
      event('settled', 'cb-2', { user_id: 'bob', task_id: 't1' }),
    ];
    const middle = written[2].at * 1000;
    await a.append(written.slice(0, 2));
    await b.append(written.slice(2, 4));
    await c.append(written.slice(4));
    expect(ids(await allPages(b, {}, 500))).toEqual(ids(written));
    expect(ids(await allPages(a, { userId: 'alice' }, 2))).toEqual(ids([written[0], written[2], written[3]]));
    expect(ids(await allPages(c, { taskId: 't1' }, 500))).toEqual(ids([written[0], written[1], written[3], written[4]]));
    expect(ids(await allPages(a, { userId: 'bob', taskId: 't1' }, 1))).toEqual(ids([written[1], written[4]]));
    expect(ids(await allPages(b, { since: middle }, 500))).toEqual(ids(written.slice(2)));
    expect(ids(await allPages(b, { until: middle }, 500))).toEqual(ids(written.slice(0, 3)));
    expect(ids(await allPages(c, { since: middle, until: middle, userId: 'alice' }, 500))).toEqual(ids([written[2]]));
    expect(ids(await allPages(c, { since: start - 60_000, until: start - 1 }, 500))).toEqual([]);
    expect(await a.query({ userId: 'carol' }, null, 10)).toEqual({ events: [], nextCursor: null });
  });

  it('pages with a cursor that neither skips nor repeats while three instances append', async () => {
    const stores = await backend.stores(LONG);
    const first = Array.from({ length: 30 }, (_, i) => event('created', `cb-${i}`));
    await stores[0].append(first);
    const seen: AuditEvent[] = [];
    const appended: AuditEvent[][] = [[], [], []];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      // Every instance appends while the pages are read.
      await Promise.all(
        stores.map((store, i) => {
          if (page >= 4) return undefined;
          const more = [event('delivered', `more-${i}-${page}`, { instance_id: `i${i}` }), event('settled', `more-${i}-${page}`, { instance_id: `i${i}` })];
          appended[i].push(...more);
          return store.append(more);
        }),
      );
      const read = await stores[page % 3].query({}, cursor, 7);
      seen.push(...read.events);
      if (read.nextCursor === null) break;
      cursor = read.nextCursor;
    }
    expect(new Set(ids(seen)).size).toBe(seen.length);
    expect(seen).toHaveLength(30 + 3 * 4 * 2);
    expect(ids(seen.slice(0, 30))).toEqual(ids(first));
    // Each instance's events in the order it wrote them.
    for (const mine of appended) expect(ids(seen.filter((e) => mine.some((m) => m.event_id === e.event_id)))).toEqual(ids(mine));
    // A cursor at the end sees what is appended later, and only that.
    const later = event('created', 'late');
    await stores[1].append([later]);
    expect(ids((await stores[2].query({}, cursor, 500)).events).slice(-1)).toEqual([later.event_id]);
  });

  it('keeps a confirmation\'s newest events when it has more than its cap', async () => {
    const [a, b] = await backend.stores(LONG);
    const written = Array.from({ length: MAX_EVENTS_PER_CONFIRMATION + 5 }, (_, i) => event(i === 0 ? 'created' : 'reminded', 'busy'));
    await a.append(written.slice(0, 500));
    await b.append(written.slice(500));
    expect(ids(await a.trail('busy'))).toEqual(ids(written.slice(5)));
  });

  it('forgets events past their retention, in trails and queries', async () => {
    const [a, b] = await backend.stores({ retentionMs: 800, maxEvents: 100_000 });
    const now = () => ({ at: Date.now() / 1000 });
    const old = event('created', 'cb-old', now());
    await a.append([old]);
    await sleep(400);
    const young = event('created', 'cb-young', now());
    await b.append([young]);
    expect(ids(await allPages(a, {}, 500))).toEqual(ids([old, young]));
    await sleep(600);
    expect(await b.trail('cb-old')).toEqual([]);
    expect(ids(await b.trail('cb-young'))).toEqual(ids([young]));
    expect(ids(await allPages(a, {}, 500))).toEqual(ids([young]));
    // An event recorded long ago and written late (a queue that waited out an outage) is past it too.
    await a.append([event('created', 'cb-stale', { at: (Date.now() - 5000) / 1000 })]);
    expect(await a.trail('cb-stale')).toEqual([]);
  });

  if (kind === 'memory') {
    it('memory: keeps at most AUDIT_MAX_EVENTS, the oldest dropped first', async () => {
      const [store] = await backend.stores({ retentionMs: LONG.retentionMs, maxEvents: 5 });
      const written = Array.from({ length: 8 }, (_, i) => event('created', `cb-${i % 2}`));
      for (const one of written) await store.append([one]);
      expect(ids(await allPages(store, {}, 500))).toEqual(ids(written.slice(3)));
      expect(ids(await store.trail('cb-0'))).toEqual(ids([written[4], written[6]]));
      expect(ids(await store.trail('cb-1'))).toEqual(ids([written[3], written[5], written[7]]));
    });
  }
});
