/**
 * Timed work that belongs to one confirmation (a reminder, an escalation): what to do,
 * how often, and for whom. `kind` picks the handler; `data` is the handler's, stored as JSON.
 */
export interface ScheduledJob {
  callbackId: string;
  /** Unique among the confirmation's jobs (scheduling the same name again replaces it). */
  name: string;
  kind: string;
  /** Runs in all: 1 for a one-off, up to `times` for a repeating job. */
  times: number;
  /** Between two runs of a repeating job, in ms. */
  everyMs: number;
  data?: Record<string, unknown>;
}

/** One run handed to the instance that claimed it: `run` counts from 1 to `job.times`. */
export interface ClaimedRun {
  job: ScheduledJob;
  run: number;
  /** When this run was due (epoch ms). */
  dueAt: number;
  /** When the job's next run is due, if it has one. */
  nextDueAt: number | null;
}

/**
 * Where scheduled jobs live: in this process (one instance) or in Redis (every instance
 * scans one schedule). `claimDue` is atomic: of any number of instances claiming at once,
 * exactly one gets each due run, and a job's runs are handed out in order, each once; the
 * job itself (its next run) stays in the store, so an instance that dies loses at most the
 * run it had claimed and not yet done, never the runs after it. `cancel` ends every job of a
 * confirmation. test/contracts/schedule-store.spec.ts holds every implementation to this.
 */
export abstract class ScheduleStore {
  /** Schedules the job's first run at `dueAt` (epoch ms), replacing a job of the same confirmation and name. */
  abstract schedule(job: ScheduledJob, dueAt: number): Promise<void>;

  /** Claims up to `limit` runs due at `now` or before, each for this caller only. */
  abstract claimDue(now: number, limit: number): Promise<ClaimedRun[]>;

  /** Ends every job of the confirmation; answers how many there were. */
  abstract cancel(callbackId: string): Promise<number>;
}
