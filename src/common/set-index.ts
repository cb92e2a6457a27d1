/** A map from key to a set of values, where a key whose set empties disappears. */
export class SetIndex<T> {
  private readonly sets = new Map<string, Set<T>>();
  private static readonly EMPTY: ReadonlySet<never> = new Set();

  add(key: string, value: T): void {
    let set = this.sets.get(key);
    if (!set) this.sets.set(key, (set = new Set()));
    set.add(value);
  }

  delete(key: string, value: T): void {
    const set = this.sets.get(key);
    if (!set) return;
    set.delete(value);
    if (set.size === 0) this.sets.delete(key);
  }

  get(key: string): ReadonlySet<T> {
    return this.sets.get(key) ?? SetIndex.EMPTY;
  }

  keys(): IterableIterator<string> {
    return this.sets.keys();
  }
}
