/**
 * Hands out one string object per distinct value, so records kept for a long time share
 * the ids they repeat (a user's id in each of their decisions) instead of each keeping
 * the copy its request parsed. Bounded: past `capacity` distinct values the table starts
 * over, which costs only sharing, never correctness.
 */
export class StringInterner {
  private readonly table = new Map<string, string>();

  constructor(private readonly capacity: number) {}

  intern(value: string): string {
    const known = this.table.get(value);
    if (known !== undefined) return known;
    if (this.table.size >= this.capacity) this.table.clear();
    this.table.set(value, value);
    return value;
  }

  get size(): number {
    return this.table.size;
  }
}
