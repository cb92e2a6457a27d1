import { LuaScripts } from '../redis/lua-scripts.js';
import { RedisService } from '../redis/redis.service.js';
import { ClaimedRun, JobKey, ScheduledJob, ScheduleStore } from './schedule.store.js';

/**
 * One schedule in Redis for the whole deployment, in the `{global}` slot beside the expiry
 * schedule: jobs by due time (`{global}:schedule`), by confirmation (`{global}:schedule-index`,
 * a lexical index so cancel finds a confirmation's jobs), and the jobs with their runs done
 * and current run's due time (`{global}:schedule-jobs`). Every instance claims from it
 * (src/redis/lua/schedule-*.lua): a claim leases the run (its score becomes the lease's
 * end), a completion counts it and moves the job on, so a run goes to one instance at a
 * time, and an instance that dies takes neither its claimed run nor the later ones with it.
 */
export class RedisScheduleStore extends ScheduleStore {
  private readonly scripts: LuaScripts;
  private readonly keys: [string, string, string];

  constructor(private readonly shared: RedisService) {
    super();
    this.scripts = LuaScripts.of(shared.commands);
    this.keys = [shared.globalKey('schedule'), shared.globalKey('schedule-index'), shared.globalKey('schedule-jobs')];
  }

  schedule(job: ScheduledJob, dueAt: number): Promise<void> {
    return this.shared.run(async () => {
      const args = [memberOf(job), Math.round(dueAt), job.times, Math.round(job.everyMs), JSON.stringify(job)];
      await this.scripts.run('scheduleAdd', this.keys, args);
    });
  }

  claimDue(now: number, leaseMs: number, limit: number): Promise<ClaimedRun[]> {
    return this.shared.run(async () => {
      const claimed = await this.scripts.run('scheduleClaim', this.keys, [Math.floor(now), Math.round(leaseMs), limit]);
      return claimed.map(([json, run, dueAt, nextDueAt]) => ({
        job: JSON.parse(json) as ScheduledJob,
        run: Number(run),
        dueAt: Number(dueAt),
        nextDueAt: nextDueAt === '' ? null : Number(nextDueAt),
      }));
    });
  }

  complete(job: JobKey, run: number): Promise<number | null> {
    return this.shared.run(async () => {
      const nextDueAt = await this.scripts.run('scheduleComplete', this.keys, [memberOf(job), run]);
      return nextDueAt === '' ? null : Number(nextDueAt);
    });
  }

  cancel(callbackId: string): Promise<number> {
    // callback_ids hold no control characters: '\n' ends the id within a member, '\v' follows it.
    return this.shared.run(() => this.scripts.run('scheduleCancel', this.keys, [`[${callbackId}\n`, `(${callbackId}\v`]));
  }
}

function memberOf(job: JobKey): string {
  return `${job.callbackId}\n${job.name}`;
}
