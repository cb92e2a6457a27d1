/**
 * An offset per stream key, for the few streams one connection follows (its user's, the
 * broadcasts', a task or two). A Map costs every idle connection about 200 bytes of hash
 * table for two entries; pairs in one array cost a quarter of that, and a linear search
 * over a handful of keys is as fast as hashing.
 */
const NO_PAIRS: ReadonlyArray<string | number> = Object.freeze([]);

export class StreamOffsets {
  /** Key, offset, key, offset…; replaced, not pushed to, when it grows: push would reserve room for 17. */
  private pairs: ReadonlyArray<string | number> = NO_PAIRS;

  get size(): number {
    return this.pairs.length / 2;
  }

  get(stream: string): number | undefined {
    const at = this.indexOf(stream);
    return at === -1 ? undefined : (this.pairs[at + 1] as number);
  }

  set(stream: string, offset: number): this {
    const at = this.indexOf(stream);
    if (at === -1) this.pairs = this.pairs.concat(stream, offset);
    else (this.pairs as Array<string | number>)[at + 1] = offset;
    return this;
  }

  delete(stream: string): boolean {
    const at = this.indexOf(stream);
    if (at === -1) return false;
    this.pairs = this.pairs.filter((_, i) => i !== at && i !== at + 1);
    return true;
  }

  private indexOf(stream: string): number {
    for (let at = 0; at < this.pairs.length; at += 2) if (this.pairs[at] === stream) return at;
    return -1;
  }
}
