/** A running heartbeat as stored; `owner` is the instance that sends its beats. */
export interface Heartbeat {
  readonly id: string;
  readonly userId: string;
  readonly taskId: string;
  readonly intervalSeconds: number;
  readonly message: string;
  readonly startedAt: number;
  readonly endsAt: number;
  beats: number;
  owner: string;
}

/**
 * Where heartbeats live: one per task. In cluster mode an owner holds a lease it renews
 * with every beat; a heartbeat whose lease ran out (its instance died) is claimed by
 * another instance, which sends its beats from then on.
 */
export abstract class HeartbeatStore {
  /** Stores the heartbeat as its task's one; answers the heartbeat it replaced. */
  abstract start(heartbeat: Heartbeat, leaseMs: number): Promise<Heartbeat | undefined>;

  abstract get(id: string): Promise<Heartbeat | undefined>;

  abstract forTask(taskId: string): Promise<Heartbeat | undefined>;

  /** Removes it; answers what was removed. */
  abstract stop(id: string): Promise<Heartbeat | undefined>;

  /** Counts a beat and renews the lease, if its owner still owns it; undefined otherwise. */
  abstract beat(heartbeat: Heartbeat, leaseMs: number): Promise<Heartbeat | undefined>;

  /** Takes over heartbeats whose lease ran out. */
  abstract claimOrphans(owner: string, leaseMs: (h: Heartbeat) => number): Promise<Heartbeat[]>;
}

/**
 * One instance's heartbeats. Records are values: copies in and out, a beat replaces the
 * record. A heartbeat past its end is gone when asked for, as its key expires in Redis.
 */
export class MemoryHeartbeatStore extends HeartbeatStore {
  private readonly byId = new Map<string, Heartbeat>();
  private readonly byTask = new Map<string, Heartbeat>();

  async start(heartbeat: Heartbeat): Promise<Heartbeat | undefined> {
    const replaced = this.liveForTask(heartbeat.taskId);
    if (replaced) this.byId.delete(replaced.id);
    const kept = { ...heartbeat };
    this.byId.set(kept.id, kept);
    this.byTask.set(kept.taskId, kept);
    return replaced && { ...replaced };
  }

  async get(id: string): Promise<Heartbeat | undefined> {
    const heartbeat = this.live(id);
    return heartbeat && { ...heartbeat };
  }

  async forTask(taskId: string): Promise<Heartbeat | undefined> {
    const heartbeat = this.liveForTask(taskId);
    return heartbeat && { ...heartbeat };
  }

  async stop(id: string): Promise<Heartbeat | undefined> {
    const heartbeat = this.live(id);
    if (!heartbeat) return undefined;
    this.remove(heartbeat);
    return { ...heartbeat };
  }

  async beat(local: Heartbeat): Promise<Heartbeat | undefined> {
    const heartbeat = this.live(local.id);
    if (!heartbeat || heartbeat.owner !== local.owner) return undefined;
    const beaten = { ...heartbeat, beats: heartbeat.beats + 1 };
    this.byId.set(beaten.id, beaten);
    this.byTask.set(beaten.taskId, beaten);
    return { ...beaten };
  }

  /** One instance: nobody else could have owned a heartbeat. */
  async claimOrphans(): Promise<Heartbeat[]> {
    return [];
  }

  /** The heartbeat, unless it has ended (then it is removed now). */
  private live(id: string): Heartbeat | undefined {
    return this.unlessEnded(this.byId.get(id));
  }

  private liveForTask(taskId: string): Heartbeat | undefined {
    return this.unlessEnded(this.byTask.get(taskId));
  }

  private unlessEnded(heartbeat: Heartbeat | undefined): Heartbeat | undefined {
    if (heartbeat && Date.now() >= heartbeat.endsAt) {
      this.remove(heartbeat);
      return undefined;
    }
    return heartbeat;
  }

  private remove(heartbeat: Heartbeat): void {
    this.byId.delete(heartbeat.id);
    if (this.byTask.get(heartbeat.taskId)?.id === heartbeat.id) this.byTask.delete(heartbeat.taskId);
  }
}
