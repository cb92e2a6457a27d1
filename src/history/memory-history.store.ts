import { randomUUID } from 'node:crypto';
import { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Appended, HistoryEntry, KeptStreamRef, HistoryLimits, HistoryPage, HistoryStore, offsetPrefix, PageLimits, StreamPosition, StreamRef, takePage } from './history.store.js';

const SWEEP_INTERVAL_MS = 30_000;

/**
 * A kept frame, with what the byte bounds need. It keeps the frame as published and adds
 * the offset when read (catch-ups are rare): the JSON with the offset is flattened into a
 * copy when it is written to sockets, and that copy then dies young instead of being kept,
 * and a prompt's kept JSON is the one its confirmation keeps anyway.
 */
class KeptEntry implements HistoryEntry {
  /** Dropped from its stream; still listed in the store's append order until compacted. */
  gone = false;
  skipUsers?: readonly string[];

  constructor(
    readonly offset: number,
    readonly at: number,
    private readonly published: string,
    /** Bytes of `json`, offset included. */
    readonly bytes: number,
    readonly stream: MemoryStream,
  ) {}

  get json(): string {
    return withOffset(this.published, this.stream.ref, this.offset);
  }
}

function withOffset(json: string, stream: KeptStreamRef, offset: number): string {
  return offsetPrefix(json, stream) + offset + '}';
}

/** One stream: its last frames (offsets without holes, oldest first), its epoch and top offset. */
class MemoryStream {
  readonly epoch = randomUUID().slice(0, 8);
  top = 0;
  bytes = 0;
  /** Last append or read: the stream's epoch and offset are kept for metaTtlMs after it. */
  touchedAt: number;
  private lastAppendAt = 0;
  private entries: KeptEntry[] = [];
  /** Index of the oldest kept entry in `entries`. */
  private head = 0;

  constructor(
    readonly ref: KeptStreamRef,
    now: number,
  ) {
    this.touchedAt = now;
  }

  get length(): number {
    return this.entries.length - this.head;
  }

  oldest(): KeptEntry | undefined {
    return this.entries[this.head];
  }

  push(entry: KeptEntry): void {
    this.entries.push(entry);
    this.bytes += entry.bytes;
    this.top = entry.offset;
    this.touchedAt = entry.at;
    this.lastAppendAt = entry.at;
  }

  /** Drops the oldest entry; resolves to it. */
  dropOldest(): KeptEntry | undefined {
    const entry = this.entries[this.head];
    if (entry === undefined) return undefined;
    this.entries[this.head++] = undefined as unknown as KeptEntry;
    if (this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    entry.gone = true;
    this.bytes -= entry.bytes;
    return entry;
  }

  /** Entries with offsets from `from` to `through`, oldest first. */
  *between(from: number, through: number): Generator<KeptEntry> {
    const oldest = this.oldest();
    if (oldest === undefined) return;
    for (let i = this.head + Math.max(0, from - oldest.offset); i < this.entries.length; i++) {
      const entry = this.entries[i];
      if (entry.offset > through) return;
      yield entry;
    }
  }

  /** Every frame goes once the newest is older than `oldestKept`. */
  isStale(oldestKept: number): boolean {
    return this.length > 0 && this.lastAppendAt < oldestKept;
  }
}

/**
 * History in this process, lost (new epochs) on restart. Each stream keeps its last `size`
 * frames within `maxBytesPerStream`; all streams together keep `maxBytesTotal`, the
 * oldest frame of all going first (its stream then reports a gap as any trimmed one does).
 */
export class MemoryHistoryStore extends HistoryStore implements OnModuleInit, OnModuleDestroy {
  private sweepTimer?: NodeJS.Timeout;
  private readonly streams = new Map<string, MemoryStream>();
  /** Every kept entry in append order (and some gone ones, until compacted): the oldest of all goes first. */
  private appendOrder: KeptEntry[] = [];
  private appendOrderHead = 0;
  private goneInOrder = 0;
  private bytes = 0;

  constructor(limits: HistoryLimits) {
    super(limits);
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Bytes of frames kept in all streams. */
  get totalBytes(): number {
    return this.bytes;
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
  }

  /** Appends the frame (JSON of an object) to the stream, synchronously (the MemoryBroker's step). */
  append(stream: StreamRef, json: string, skipUsers?: readonly string[]): Appended {
    const now = Date.now();
    const kept = this.streamOf(stream, now);
    const offset = kept.top + 1;
    const full = withOffset(json, kept.ref, offset);
    // What the offset adds is ASCII: its byte count is its length, and `full` stays unflattened.
    const entry = new KeptEntry(offset, now, json, Buffer.byteLength(json) + full.length - json.length, kept);
    if (skipUsers !== undefined) entry.skipUsers = skipUsers;
    kept.push(entry);
    this.bytes += entry.bytes;
    this.appendOrder.push(entry);
    this.trimStream(kept);
    this.trimTotal();
    return { offset, json: full };
  }

  async position(stream: StreamRef): Promise<StreamPosition> {
    const now = Date.now();
    const kept = this.streamOf(stream, now);
    kept.touchedAt = Math.max(kept.touchedAt, now);
    return { epoch: kept.epoch, offset: kept.top };
  }

  async readPage(stream: StreamRef, from: number, through: number | null, page: PageLimits): Promise<HistoryPage> {
    const now = Date.now();
    const kept = this.streamOf(stream, now);
    kept.touchedAt = Math.max(kept.touchedAt, now);
    const entries = takePage(kept.between(from, through ?? kept.top), page).map(entryValue);
    return { position: { epoch: kept.epoch, offset: kept.top }, entries };
  }

  /** Drops expired frames and forgotten streams (every 30 s, and by tests). */
  sweep(now: number): void {
    for (const [key, kept] of this.streams) {
      const forgotten = kept.touchedAt < now - this.limits.metaTtlMs;
      if (forgotten || kept.isStale(now - this.limits.ttlMs)) this.dropAll(kept);
      if (forgotten) this.streams.delete(key);
    }
    this.compactAppendOrder();
  }

  private streamOf(stream: StreamRef, now: number): MemoryStream {
    const key = stream.kind === 'broadcast' ? 'b' : `${stream.kind[0]}:${stream.id}`;
    let kept = this.streams.get(key);
    // What the sweep would drop is gone already, as Redis expires it: frames HISTORY_TTL after
    // the stream's last one, the stream itself HISTORY_META_TTL after its last use.
    if (kept?.isStale(now - this.limits.ttlMs)) this.dropAll(kept);
    if (kept && kept.touchedAt < now - this.limits.metaTtlMs) {
      this.dropAll(kept);
      kept = undefined;
    }
    if (!kept) {
      // Group streams are never kept (the broker publishes them without history).
      kept = new MemoryStream(stream as KeptStreamRef, now);
      this.streams.set(key, kept);
    }
    return kept;
  }

  private trimStream(kept: MemoryStream): void {
    while (kept.length > this.limits.size || (kept.length > 0 && kept.bytes > this.limits.maxBytesPerStream)) this.dropOldestOf(kept);
  }

  /** Drops the oldest frames of all streams until the total fits. */
  private trimTotal(): void {
    while (this.bytes > this.limits.maxBytesTotal && this.appendOrderHead < this.appendOrder.length) {
      const entry = this.appendOrder[this.appendOrderHead];
      this.appendOrder[this.appendOrderHead++] = undefined as unknown as KeptEntry;
      // Every stream drops oldest first, so the oldest entry of all is its stream's oldest.
      if (!entry.gone) this.dropOldestOf(entry.stream);
      this.goneInOrder--;
    }
    this.compactAppendOrder();
  }

  private dropOldestOf(kept: MemoryStream): void {
    const entry = kept.dropOldest();
    if (entry === undefined) return;
    this.bytes -= entry.bytes;
    this.goneInOrder++;
  }

  private dropAll(kept: MemoryStream): void {
    while (kept.length > 0) this.dropOldestOf(kept);
  }

  /** Forgets gone entries once they are most of the append order, so it stays proportional to what is kept. */
  private compactAppendOrder(): void {
    const listed = this.appendOrder.length - this.appendOrderHead;
    const headWasted = this.appendOrderHead > 0 && this.appendOrderHead * 2 >= this.appendOrder.length;
    const mostlyGone = this.goneInOrder > 1024 && this.goneInOrder * 2 >= listed;
    if (!headWasted && !mostlyGone) return;
    this.appendOrder = this.appendOrder.slice(this.appendOrderHead).filter((entry) => !entry.gone);
    this.appendOrderHead = 0;
    this.goneInOrder = 0;
  }
}

/** A kept entry as a value: what a reader does with it changes nothing kept. */
function entryValue(entry: KeptEntry): HistoryEntry {
  const value: HistoryEntry = { offset: entry.offset, at: entry.at, json: entry.json };
  if (entry.skipUsers !== undefined) value.skipUsers = [...entry.skipUsers];
  return value;
}
