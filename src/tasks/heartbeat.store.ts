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

export class MemoryHeartbeatStore extends HeartbeatStore {
  private readonly byId = new Map<string, Heartbeat>();
  private readonly byTask = new Map<string, Heartbeat>();

  async start(heartbeat: Heartbeat): Promise<Heartbeat | undefined> {
    const replaced = this.byTask.get(heartbeat.taskId);
    if (replaced) this.byId.delete(replaced.id);
    this.byId.set(heartbeat.id, heartbeat);
    this.byTask.set(heartbeat.taskId, heartbeat);
    return replaced;
  }

  async get(id: string): Promise<Heartbeat | undefined> {
    return this.byId.get(id);
  }

  async forTask(taskId: string): Promise<Heartbeat | undefined> {
    return this.byTask.get(taskId);
  }

  async stop(id: string): Promise<Heartbeat | undefined> {
    const heartbeat = this.byId.get(id);
    if (!heartbeat) return undefined;
    this.byId.delete(id);
    if (this.byTask.get(heartbeat.taskId) === heartbeat) this.byTask.delete(heartbeat.taskId);
    return heartbeat;
  }

  async beat(local: Heartbeat): Promise<Heartbeat | undefined> {
    const heartbeat = this.byId.get(local.id);
    if (!heartbeat || heartbeat.owner !== local.owner) return undefined;
    heartbeat.beats++;
    return heartbeat;
  }

  /** One instance: nobody else could have owned a heartbeat. */
  async claimOrphans(): Promise<Heartbeat[]> {
    return [];
  }
}
