import { compositeKey } from '../common/composite-key.js';
import { ClaimedRun, ScheduledJob, ScheduleStore } from './schedule.store.js';

interface Entry {
  /** The job as JSON: what is handed out is always a fresh copy. */
  json: string;
  times: number;
  everyMs: number;
  done: number;
  dueAt: number;
}

/**
 * One instance's schedule, in memory. Claims run synchronously, so no two callers share a
 * run. Only confirmations with reminders or escalations have entries: a scan is over those.
 */
export class MemoryScheduleStore extends ScheduleStore {
  private readonly entries = new Map<string, Entry>();
  private readonly byCallback = new Map<string, Set<string>>();

  async schedule(job: ScheduledJob, dueAt: number): Promise<void> {
    const key = compositeKey(job.callbackId, job.name);
    this.entries.set(key, { json: JSON.stringify(job), times: job.times, everyMs: job.everyMs, done: 0, dueAt });
    let names = this.byCallback.get(job.callbackId);
    if (!names) this.byCallback.set(job.callbackId, (names = new Set()));
    names.add(key);
  }

  async claimDue(now: number, limit: number): Promise<ClaimedRun[]> {
    const due = [...this.entries].filter(([, e]) => e.dueAt <= now).sort(([, a], [, b]) => a.dueAt - b.dueAt).slice(0, limit);
    return due.map(([key, entry]) => {
      const job = JSON.parse(entry.json) as ScheduledJob;
      const dueAt = entry.dueAt;
      entry.done++;
      if (entry.done >= entry.times) {
        this.remove(key, job.callbackId);
        return { job, run: entry.done, dueAt, nextDueAt: null };
      }
      entry.dueAt = dueAt + entry.everyMs;
      return { job, run: entry.done, dueAt, nextDueAt: entry.dueAt };
    });
  }

  async cancel(callbackId: string): Promise<number> {
    const keys = this.byCallback.get(callbackId);
    if (!keys) return 0;
    this.byCallback.delete(callbackId);
    for (const key of keys) this.entries.delete(key);
    return keys.size;
  }

  private remove(key: string, callbackId: string): void {
    this.entries.delete(key);
    const keys = this.byCallback.get(callbackId);
    keys?.delete(key);
    if (keys?.size === 0) this.byCallback.delete(callbackId);
  }
}
