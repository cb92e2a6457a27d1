import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { LongTimer, timerAt } from '../common/timers.js';
import { StateBackend } from '../engine/state-backend.js';
import { ClaimedRun, ScheduledJob, ScheduleStore } from './schedule.store.js';

/** How often every instance claims due runs, where other instances may have left some. */
const SCAN_MS = 1000;
/** Runs claimed at once; a full batch is followed by another at once. */
const BATCH = 100;
/** How long a claimed run is this instance's: if it has not completed it by then (it died), another instance runs it. */
export const LEASE_MS = 10_000;

export type RunHandler = (run: ClaimedRun) => Promise<unknown>;

/**
 * Runs scheduled jobs (reminders, escalations) wherever they were scheduled: the
 * ScheduleStore leases each due run to one claimer, which runs its handler and then
 * completes it. This instance wakes itself at the due times it knows of (the jobs it
 * scheduled, the next runs of those it completed, the end of a lease whose handler failed)
 * and, where there are peers, claims every second too, so the runs of an instance that died
 * (before or while running them) still happen. A run is repeated only when its claimer died
 * or failed before completing it: handlers must be safe to repeat. Handlers are registered by job kind.
 */
@Injectable()
export class SchedulerService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SchedulerService.name);
  private readonly handlers = new Map<string, RunHandler>();
  private readonly wakeUps = new Set<LongTimer>();
  private scan?: NodeJS.Timeout;
  private claiming: Promise<void> | null = null;
  private claimAgain = false;
  private closing = false;

  constructor(
    private readonly store: ScheduleStore,
    private readonly backend: StateBackend,
  ) {}

  onModuleInit(): void {
    if (!this.backend.hasPeers) return;
    this.scan = setInterval(() => void this.claimDue(), SCAN_MS);
    this.scan.unref();
  }

  onModuleDestroy(): void {
    this.closing = true;
    if (this.scan) clearInterval(this.scan);
    for (const wakeUp of this.wakeUps) wakeUp.cancel();
    this.wakeUps.clear();
  }

  /** The function that runs the jobs of one kind. */
  handle(kind: string, handler: RunHandler): void {
    this.handlers.set(kind, handler);
  }

  async schedule(job: ScheduledJob, dueAt: number): Promise<void> {
    await this.store.schedule(job, dueAt);
    this.wakeAt(dueAt);
  }

  /** Ends the confirmation's jobs (it settled). */
  cancel(callbackId: string): Promise<number> {
    return this.store.cancel(callbackId);
  }

  private wakeAt(at: number): void {
    if (this.closing) return;
    const wakeUp = timerAt(at, () => {
      this.wakeUps.delete(wakeUp);
      void this.claimDue();
    });
    this.wakeUps.add(wakeUp);
  }

  /** Claims and runs what is due; one claim loop at a time on this instance. */
  claimDue(): Promise<void> {
    if (this.claiming) {
      this.claimAgain = true;
      return this.claiming;
    }
    this.claiming = this.claimLoop().finally(() => {
      this.claiming = null;
    });
    return this.claiming;
  }

  private async claimLoop(): Promise<void> {
    do {
      this.claimAgain = false;
      let runs: ClaimedRun[];
      try {
        runs = await this.store.claimDue(Date.now(), LEASE_MS, BATCH);
      } catch {
        return; // Redis away: the next scan (or wake-up) claims them.
      }
      await Promise.all(runs.map((run) => this.run(run)));
      if (runs.length === BATCH) this.claimAgain = true;
    } while (this.claimAgain && !this.closing);
  }

  private async run(run: ClaimedRun): Promise<void> {
    const handler = this.handlers.get(run.job.kind);
    try {
      if (handler) await handler(run);
      else this.logger.warn(`No handler for scheduled ${run.job.kind} of ${run.job.callbackId}`);
    } catch (err) {
      // Not completed: handed out again when its lease ends (here too, without peers scanning).
      this.logger.warn(`Scheduled ${run.job.kind} #${run.run} of ${run.job.callbackId} failed (retried in ${LEASE_MS / 1000} s): ${(err as Error).message}`);
      return this.wakeAt(Date.now() + LEASE_MS);
    }
    try {
      const nextDueAt = await this.store.complete(run.job, run.run);
      if (nextDueAt !== null) this.wakeAt(nextDueAt);
    } catch (err) {
      // Redis away: the run is done, but handed out again at the lease's end (its handler is safe to repeat).
      this.logger.warn(`Scheduled ${run.job.kind} #${run.run} of ${run.job.callbackId} not completed: ${(err as Error).message}`);
      this.wakeAt(Date.now() + LEASE_MS);
    }
  }
}
