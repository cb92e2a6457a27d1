import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { MemoryScheduleStore } from '../../src/schedule/memory-schedule.store.js';
import { RedisScheduleStore } from '../../src/schedule/redis-schedule.store.js';
import { ClaimedRun, ScheduledJob, ScheduleStore } from '../../src/schedule/schedule.store.js';
import { backendsFor, startedForThisFile } from './backends.js';

/**
 * The ScheduleStore contract: a due run is leased to exactly one claimer, in order, however
 * many instances claim at once; a run not completed within its lease is handed out again
 * (same run number), a completed one never; a repeating job's later runs stay stored
 * whoever claimed the earlier ones; cancel ends a confirmation's jobs. The same in memory,
 * on one Redis and on a three-master Redis Cluster.
 */
const backends = backendsFor<ScheduleStore, void>({
  memory: () => new MemoryScheduleStore(),
  redis: (shared) => new RedisScheduleStore(shared),
});

function job(overrides: Partial<ScheduledJob> = {}): ScheduledJob {
  return { callbackId: randomUUID(), name: 'reminder', kind: 'reminder', times: 1, everyMs: 1000, ...overrides };
}

/** How long a claimed run stays with its claimer before it is handed out again. */
const LEASE = 10_000;

const runsOf = (claimed: ClaimedRun[]) => claimed.map((c) => `${c.job.callbackId}/${c.job.name}#${c.run}`);

describe.each(backends)('ScheduleStore contract on %s', (_kind, backend) => {
  startedForThisFile(backend);

  it('hands out nothing before it is due, then the run with its job as scheduled', async () => {
    const [one, two] = await backend.stores();
    const t0 = 1_000_000;
    const reminder = job({ data: { users: ['bob'], note: 'ünïcode' } });
    await one.schedule(reminder, t0 + 500);
    expect(await two.claimDue(t0, LEASE, 10)).toEqual([]);
    expect(await two.claimDue(t0 + 500, LEASE, 10)).toEqual([{ job: reminder, run: 1, dueAt: t0 + 500, nextDueAt: null }]);
    expect(await one.claimDue(t0 + 500 + LEASE - 1, LEASE, 10)).toEqual([]);
    expect(await two.complete(reminder, 1)).toBeNull();
    expect(await one.claimDue(t0 + 100_000, LEASE, 10)).toEqual([]);
  });

  it('runs a repeating job `times` times, every `everyMs`, whichever instance claims each run', async () => {
    const stores = await backend.stores();
    const t0 = 2_000_000;
    const repeating = job({ times: 3, everyMs: 1000 });
    await stores[0].schedule(repeating, t0 + 1000);
    const claimed: ClaimedRun[] = [];
    for (let i = 0; i < 3; i++) {
      expect(await stores[i].claimDue(t0 + 999 + i * 1000, LEASE, 10)).toEqual([]);
      const [run] = await stores[(i + 1) % 3].claimDue(t0 + 1000 + i * 1000, LEASE, 10);
      claimed.push(run);
      expect(await stores[(i + 1) % 3].complete(repeating, run.run)).toBe(run.nextDueAt);
    }
    expect(claimed.map((c) => [c.run, c.dueAt, c.nextDueAt])).toEqual([
      [1, t0 + 1000, t0 + 2000],
      [2, t0 + 2000, t0 + 3000],
      [3, t0 + 3000, null],
    ]);
    expect(await stores[2].claimDue(t0 + 100_000, LEASE, 10)).toEqual([]);
  });

  it('hands a claimed run not completed within its lease to another instance, the same run, then the next one', async () => {
    const [one, two, three] = await backend.stores();
    const t0 = 2_500_000;
    const repeating = job({ times: 2, everyMs: 1000 });
    await one.schedule(repeating, t0);
    // One claims run 1 and dies before completing it: nobody gets it during the lease...
    expect(runsOf(await one.claimDue(t0, LEASE, 10))).toEqual([`${repeating.callbackId}/reminder#1`]);
    expect(await two.claimDue(t0 + LEASE - 1, LEASE, 10)).toEqual([]);
    // ...then another instance does, as it was due, with a lease of its own.
    expect(await two.claimDue(t0 + LEASE, LEASE, 10)).toEqual([{ job: repeating, run: 1, dueAt: t0, nextDueAt: t0 + 1000 }]);
    expect(await three.claimDue(t0 + 2 * LEASE - 1, LEASE, 10)).toEqual([]);
    expect(await two.complete(repeating, 1)).toBe(t0 + 1000);
    // The next run keeps the job's own rhythm (due a second after run 1 was), and is the last.
    expect(await three.claimDue(t0 + 2 * LEASE, LEASE, 10)).toEqual([{ job: repeating, run: 2, dueAt: t0 + 1000, nextDueAt: null }]);
    expect(await three.complete(repeating, 2)).toBeNull();
    expect(await one.claimDue(t0 + 100 * LEASE, LEASE, 10)).toEqual([]);
  });

  it('completing a run twice, late or after cancel is harmless: no run is skipped or handed out again', async () => {
    const [one, two, three] = await backend.stores();
    const t0 = 2_700_000;
    const repeating = job({ times: 3, everyMs: 1000 });
    await one.schedule(repeating, t0);
    await one.claimDue(t0, LEASE, 10);
    // The lease ran out; both the first claimer and the second finish run 1.
    expect((await two.claimDue(t0 + LEASE, LEASE, 10)).map((c) => c.run)).toEqual([1]);
    expect(await one.complete(repeating, 1)).toBe(t0 + 1000);
    expect(await two.complete(repeating, 1)).toBeNull();
    expect(await three.claimDue(t0 + LEASE, LEASE, 10)).toEqual([{ job: repeating, run: 2, dueAt: t0 + 1000, nextDueAt: t0 + 2000 }]);
    // A late completion of run 1 does not complete run 2, which is still leased.
    expect(await one.complete(repeating, 1)).toBeNull();
    expect(await two.claimDue(t0 + 2 * LEASE - 1, LEASE, 10)).toEqual([]);
    expect((await two.claimDue(t0 + 2 * LEASE, LEASE, 10)).map((c) => c.run)).toEqual([2]);
    expect(await three.complete(repeating, 3)).toBeNull(); // not handed out yet: nothing to complete
    expect(await two.complete(repeating, 2)).toBe(t0 + 2000);
    expect(await one.cancel(repeating.callbackId)).toBe(1);
    expect(await two.complete(repeating, 3)).toBeNull();
    expect(await three.claimDue(t0 + 100 * LEASE, LEASE, 10)).toEqual([]);
    expect(await one.complete({ callbackId: 'unknown', name: 'reminder' }, 1)).toBeNull();
  });

  it('hands each due run to exactly one of three instances claiming at once', async () => {
    const stores = await backend.stores();
    const t0 = 3_000_000;
    const jobs = Array.from({ length: 30 }, (_, i) => job({ name: `j${i}`, times: 2, everyMs: 10 }));
    await Promise.all(jobs.map((j, i) => stores[i % 3].schedule(j, t0 + (i % 5))));
    const all: string[] = [];
    for (let round = 0; round < 4; round++) {
      // Within their leases, however often they are claimed, each run goes to one instance.
      const claims = await Promise.all(stores.flatMap((s) => [s.claimDue(t0 + 100, LEASE, 7), s.claimDue(t0 + 100 + LEASE - 1, LEASE, 7)]));
      all.push(...claims.flatMap(runsOf));
      await Promise.all(claims.flatMap((runs, i) => runs.map((c) => stores[Math.floor(i / 2)].complete(c.job, c.run))));
    }
    const expected = jobs.flatMap((j) => [1, 2].map((run) => `${j.callbackId}/${j.name}#${run}`));
    expect([...all].sort()).toEqual([...expected].sort());
    expect(new Set(all).size).toBe(all.length);
  });

  it('claims at most `limit` runs at once, earliest first', async () => {
    const [one] = await backend.stores();
    const t0 = 4_000_000;
    const late = job({ name: 'late' });
    const early = job({ name: 'early' });
    await one.schedule(late, t0 + 20);
    await one.schedule(early, t0 + 10);
    expect((await one.claimDue(t0 + 30, LEASE, 1)).map((c) => c.job.name)).toEqual(['early']);
    expect((await one.claimDue(t0 + 30, LEASE, 1)).map((c) => c.job.name)).toEqual(['late']);
  });

  it('cancels every job of a confirmation, and only its', async () => {
    const [one, two, three] = await backend.stores();
    const t0 = 5_000_000;
    const callbackId = randomUUID();
    const other = job({ callbackId: `${callbackId}x` });
    await one.schedule(job({ callbackId, name: 'reminder', times: 5 }), t0);
    await one.schedule(job({ callbackId, name: 'escalation:0', kind: 'escalation' }), t0 + 5);
    await one.schedule(other, t0);
    expect(await two.cancel(callbackId)).toBe(2);
    expect(await three.cancel(callbackId)).toBe(0);
    expect(runsOf(await three.claimDue(t0 + 1000, LEASE, 10))).toEqual([`${other.callbackId}/reminder#1`]);
  });

  it('replaces a job scheduled again under the same name', async () => {
    const [one, two] = await backend.stores();
    const t0 = 6_000_000;
    const first = job({ times: 5 });
    await one.schedule(first, t0);
    await two.schedule({ ...first, times: 1, data: { again: true } }, t0 + 50);
    expect(await one.claimDue(t0 + 49, LEASE, 10)).toEqual([]);
    expect(await one.claimDue(t0 + 50, LEASE, 10)).toEqual([{ job: { ...first, times: 1, data: { again: true } }, run: 1, dueAt: t0 + 50, nextDueAt: null }]);
  });

  it('hands out values: changing a claimed job changes nothing stored', async () => {
    const [one] = await backend.stores();
    const t0 = 7_000_000;
    const repeating = job({ times: 2, data: { users: ['a'] } });
    await one.schedule(repeating, t0);
    (repeating.data as { users: string[] }).users.push('mutated');
    const [first] = await one.claimDue(t0, LEASE, 10);
    expect(first.job.data).toEqual({ users: ['a'] });
    (first.job.data as { users: string[] }).users.push('again');
    await one.complete(first.job, first.run);
    const [second] = await one.claimDue(t0 + 1000, LEASE, 10);
    expect(second.job.data).toEqual({ users: ['a'] });
  });
});
