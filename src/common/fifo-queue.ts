/**
 * First in, first out, with O(1) push, peek and shift. A Map used as a queue is not: V8
 * leaves a hole for every deleted entry until the table is rebuilt, so finding the oldest
 * of 100,000 entries with `map.values().next()` walks tens of thousands of holes.
 */
export class FifoQueue<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    // Drop the consumed front once it is half the array: amortized O(1), bounded memory.
    if (this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
