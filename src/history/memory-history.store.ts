import { randomUUID } from 'node:crypto';
import { Appended, decideRecovery, HistoryEntry, HistoryLimits, HistoryStore, offsetPrefix, Recovery, StreamPosition, StreamRef } from './history.store.js';

/** One stream: a ring of its last frames, plus its epoch and top offset. */
class MemoryStream {
  readonly epoch = randomUUID().slice(0, 8);
  top = 0;
  /** Last append or read: the stream's epoch and offset are kept for metaTtlMs after it. */
  touchedAt: number;
  private lastAppendAt = 0;
  private ring: HistoryEntry[] = [];
  /** Index of the oldest entry once the ring is full. */
  private start = 0;

  constructor(
    private readonly capacity: number,
    now: number,
  ) {
    this.touchedAt = now;
  }

  push(entry: HistoryEntry): void {
    if (this.ring.length < this.capacity) {
      this.ring.push(entry);
    } else {
      this.ring[this.start] = entry;
      this.start = (this.start + 1) % this.capacity;
    }
    this.top = entry.offset;
    this.touchedAt = entry.at;
    this.lastAppendAt = entry.at;
  }

  /** Entries after `offset`, oldest first. */
  after(offset: number): HistoryEntry[] {
    const entries: HistoryEntry[] = [];
    for (let i = 0; i < this.ring.length; i++) {
      const entry = this.ring[(this.start + i) % this.ring.length];
      if (entry.offset > offset) entries.push(entry);
    }
    return entries;
  }

  /** Drops every frame once the newest is older than `oldestKept`. */
  expireFrames(oldestKept: number): void {
    if (this.ring.length > 0 && this.lastAppendAt < oldestKept) {
      this.ring = [];
      this.start = 0;
    }
  }
}

/** History in this process: a bounded ring per stream; lost (new epochs) on restart. */
export class MemoryHistoryStore extends HistoryStore {
  private readonly streams = new Map<string, MemoryStream>();

  constructor(limits: HistoryLimits) {
    super(limits);
  }

  get streamCount(): number {
    return this.streams.size;
  }

  async append(stream: StreamRef, json: string, skipUsers?: readonly string[]): Promise<Appended> {
    return this.appendNow(stream, json, skipUsers);
  }

  appendNow(stream: StreamRef, json: string, skipUsers?: readonly string[]): Appended {
    const now = Date.now();
    const kept = this.streamOf(stream, now);
    const offset = kept.top + 1;
    const full = offsetPrefix(json, stream) + offset + '}';
    kept.push(skipUsers === undefined ? { offset, at: now, json: full } : { offset, at: now, json: full, skipUsers });
    return { offset, json: full };
  }

  async position(stream: StreamRef): Promise<StreamPosition> {
    const kept = this.streamOf(stream, Date.now());
    return { epoch: kept.epoch, offset: kept.top };
  }

  async recover(stream: StreamRef, epoch: string, offset: number, forUser?: string): Promise<Recovery> {
    const now = Date.now();
    const kept = this.streamOf(stream, now);
    kept.touchedAt = Math.max(kept.touchedAt, now);
    const position = { epoch: kept.epoch, offset: kept.top };
    return decideRecovery(position, epoch, offset, kept.after(offset), now - this.limits.ttlMs, forUser);
  }

  override sweep(now: number): void {
    for (const [key, kept] of this.streams) {
      if (kept.touchedAt < now - this.limits.metaTtlMs) this.streams.delete(key);
      else kept.expireFrames(now - this.limits.ttlMs);
    }
  }

  private streamOf(stream: StreamRef, now: number): MemoryStream {
    const key = stream.kind === 'broadcast' ? 'b' : `${stream.kind[0]}:${stream.id}`;
    let kept = this.streams.get(key);
    if (!kept) {
      kept = new MemoryStream(this.limits.size, now);
      this.streams.set(key, kept);
    }
    return kept;
  }
}
