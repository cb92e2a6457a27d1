/**
 * An offset per stream key, for the few streams one connection follows (its user's, the
 * broadcasts', a task or two). A Map costs every idle connection about 200 bytes of hash
 * table for two entries; pairs in one array cost a quarter of that, and a linear search
 * over a handful of keys is as fast as hashing.
 */
export class StreamOffsets {
  /** Key, offset, key, offset… */
  private readonly pairs: Array<string | number> = [];

  get size(): number {
    return this.pairs.length / 2;
  }

  get(stream: string): number | undefined {
    const at = this.indexOf(stream);
    return at === -1 ? undefined : (this.pairs[at + 1] as number);
  }

  set(stream: string, offset: number): this {
    const at = this.indexOf(stream);
    if (at === -1) this.pairs.push(stream, offset);
    else this.pairs[at + 1] = offset;
    return this;
  }

  delete(stream: string): boolean {
    const at = this.indexOf(stream);
    if (at === -1) return false;
    this.pairs.splice(at, 2);
    return true;
  }

  private indexOf(stream: string): number {
    for (let at = 0; at < this.pairs.length; at += 2) if (this.pairs[at] === stream) return at;
    return -1;
  }
}
