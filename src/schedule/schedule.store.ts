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
  /** When the job's next run is due once this one is completed, if it has one. */
  nextDueAt: number | null;
}

/**
 * Where scheduled jobs live: in this process (one instance) or in Redis (every instance
 * scans one schedule). `claimDue` leases each due run to one caller: of any number of
 * instances claiming at once, exactly one gets it, and nobody else until its lease ends.
 * The claimer runs it, then `complete`s it, which moves the job to its next run (or ends
 * it after the last). A run not completed within its lease (its claimer died) is handed out
 * again, with the same run number, so a run is done at least once and its action must be
 * safe to repeat; a completed run is never handed out again. `cancel` ends every job of a
 * confirmation. test/contracts/schedule-store.spec.ts holds every implementation to this.
 */
export abstract class ScheduleStore {
  /** Schedules the job's first run at `dueAt` (epoch ms), replacing a job of the same confirmation and name. */
  abstract schedule(job: ScheduledJob, dueAt: number): Promise<void>;

  /** Leases up to `limit` runs due at `now` or before (or whose lease ended) to this caller, until `now + leaseMs`. */
  abstract claimDue(now: number, leaseMs: number, limit: number): Promise<ClaimedRun[]>;

  /**
   * Marks the job's run done: the job moves to its next run, whose due time is answered,
   * or ends after its last (null). Completing a run that is not the job's current one
   * (twice, late, after cancel) changes nothing and answers null.
   */
  abstract complete(job: JobKey, run: number): Promise<number | null>;

  /** Ends every job of the confirmation; answers how many there were. */
  abstract cancel(callbackId: string): Promise<number>;
}

/** What names one job: its confirmation and its name there. */
export type JobKey = Pick<ScheduledJob, 'callbackId' | 'name'>;
