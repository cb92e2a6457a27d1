/**
 * Items that fall due at a given time, grouped by whole second, so that one ticking timer
 * serves all of them instead of a timer each (50,000 token expiries would otherwise be
 * 50,000 timers, spread over as many timer lists). An item is taken by the first tick at
 * or after the end of its second: never early, and at most a second plus one tick late.
 */
export class ExpiryBuckets<T> {
  private readonly buckets = new Map<number, Set<T>>();
  /** Every second up to and including this one has been taken. */
  private takenThrough: number;

  constructor(nowMs: number) {
    this.takenThrough = secondOf(nowMs) - 1;
  }

  add(item: T, atMs: number): void {
    const second = this.bucketOf(atMs);
    let bucket = this.buckets.get(second);
    if (!bucket) this.buckets.set(second, (bucket = new Set()));
    bucket.add(item);
  }

  delete(item: T, atMs: number): void {
    const second = this.bucketOf(atMs);
    const bucket = this.buckets.get(second);
    if (!bucket) return;
    bucket.delete(item);
    if (bucket.size === 0) this.buckets.delete(second);
  }

  /** Removes and returns every item due at `nowMs`. */
  takeDue(nowMs: number): T[] {
    const due: T[] = [];
    const through = secondOf(nowMs);
    // Walks the elapsed seconds, not the buckets: a tick costs what is due, however many wait.
    for (let second = this.takenThrough + 1; second <= through; second++) {
      const bucket = this.buckets.get(second);
      if (!bucket) continue;
      this.buckets.delete(second);
      for (const item of bucket) due.push(item);
    }
    this.takenThrough = Math.max(this.takenThrough, through);
    return due;
  }

  /** The first second whose tick may take the item: its own, or the next one if that has passed. */
  private bucketOf(atMs: number): number {
    return Math.max(Math.ceil(atMs / 1000), this.takenThrough + 1);
  }
}

/** Whole seconds of the clock the caller uses (epoch or monotonic) that `ms` has reached. */
function secondOf(ms: number): number {
  return Math.floor(ms / 1000);
}
