import { compositeKey } from '../common/composite-key.js';
import { ClaimedRun, JobKey, ScheduledJob, ScheduleStore } from './schedule.store.js';

interface Entry {
  /** The job as JSON: what is handed out is always a fresh copy. */
  json: string;
  times: number;
  everyMs: number;
  /** Runs completed. */
  done: number;
  /** When the current run (done + 1) is due. */
  dueAt: number;
  /** When it is handed out next: its due time, or the end of its claimer's lease. */
  claimableAt: number;
}

/**
 * One instance's schedule, in memory. Claims run synchronously, so no two callers share a
 * run within its lease. Only confirmations with reminders or escalations have entries: a
 * scan is over those.
 */
export class MemoryScheduleStore extends ScheduleStore {
  private readonly entries = new Map<string, Entry>();
  private readonly byCallback = new Map<string, Set<string>>();

  async schedule(job: ScheduledJob, dueAt: number): Promise<void> {
    const key = compositeKey(job.callbackId, job.name);
    this.entries.set(key, { json: JSON.stringify(job), times: job.times, everyMs: job.everyMs, done: 0, dueAt, claimableAt: dueAt });
    let names = this.byCallback.get(job.callbackId);
    if (!names) this.byCallback.set(job.callbackId, (names = new Set()));
    names.add(key);
  }

  async claimDue(now: number, leaseMs: number, limit: number): Promise<ClaimedRun[]> {
    const due = [...this.entries.values()].filter((e) => e.claimableAt <= now).sort((a, b) => a.claimableAt - b.claimableAt).slice(0, limit);
    return due.map((entry) => {
      entry.claimableAt = now + leaseMs;
      const run = entry.done + 1;
      return { job: JSON.parse(entry.json) as ScheduledJob, run, dueAt: entry.dueAt, nextDueAt: run < entry.times ? entry.dueAt + entry.everyMs : null };
    });
  }

  async complete(job: JobKey, run: number): Promise<number | null> {
    const key = compositeKey(job.callbackId, job.name);
    const entry = this.entries.get(key);
    if (!entry || run !== entry.done + 1 || entry.claimableAt === entry.dueAt) return null;
    entry.done = run;
    if (run >= entry.times) {
      this.remove(key, job.callbackId);
      return null;
    }
    entry.dueAt += entry.everyMs;
    entry.claimableAt = entry.dueAt;
    return entry.dueAt;
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
