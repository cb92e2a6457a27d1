/** A map from key to a set of values, where a key whose set empties disappears. */
export class SetIndex<T> {
  private readonly sets = new Map<string, Set<T>>();
  private static readonly EMPTY: ReadonlySet<never> = new Set();

  /** Adds the value; true when the key is new (its set was empty). */
  add(key: string, value: T): boolean {
    let set = this.sets.get(key);
    const isNew = !set;
    if (!set) this.sets.set(key, (set = new Set()));
    set.add(value);
    return isNew;
  }

  /** Removes the value; true when that emptied the key's set. */
  delete(key: string, value: T): boolean {
    const set = this.sets.get(key);
    if (!set || !set.delete(value)) return false;
    if (set.size > 0) return false;
    this.sets.delete(key);
    return true;
  }

  get(key: string): ReadonlySet<T> {
    return this.sets.get(key) ?? SetIndex.EMPTY;
  }

  keys(): IterableIterator<string> {
    return this.sets.keys();
  }
}
