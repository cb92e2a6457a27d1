import { AUDIT_SCAN_BUDGET, AuditEvent, MAX_EVENTS_PER_CONFIRMATION, orderTrail } from './audit-event.js';
import { AuditFilter, AuditPage, AuditRetention, AuditStore, matchesFilter } from './audit.store.js';

interface Entry {
  /** Position: write time (ms) and a sequence within it, like a Redis stream id. */
  ms: number;
  seq: number;
  event: AuditEvent;
}

/**
 * This process's events, in the order written: one queue for queries (the oldest leave
 * first, by retention or past AUDIT_MAX_EVENTS) and one list per confirmation. An append is
 * a push; reads copy what they hand out.
 */
export class MemoryAuditStore extends AuditStore {
  private readonly entries: Entry[] = [];
  /** Index of the oldest entry still kept (entries before it are dropped; compacted in halves). */
  private head = 0;
  private readonly byConfirmation = new Map<string, Entry[]>();
  private lastMs = 0;
  private lastSeq = 0;

  constructor(private readonly retention: AuditRetention) {
    super();
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    const now = Date.now();
    for (const event of events) {
      if (now > this.lastMs) {
        this.lastMs = now;
        this.lastSeq = 0;
      } else this.lastSeq++;
      const entry: Entry = { ms: this.lastMs, seq: this.lastSeq, event };
      this.entries.push(entry);
      let trail = this.byConfirmation.get(event.callback_id);
      if (!trail) this.byConfirmation.set(event.callback_id, (trail = []));
      trail.push(entry);
      // At most 1000 entries: shifting an array this short is cheap.
      if (trail.length > MAX_EVENTS_PER_CONFIRMATION) trail.shift();
    }
    this.dropOld(now);
  }

  async trail(callbackId: string): Promise<AuditEvent[]> {
    const now = Date.now();
    this.dropOld(now);
    const trail = this.byConfirmation.get(callbackId);
    if (!trail) return [];
    const events: AuditEvent[] = [];
    for (const entry of trail) {
      if (this.isCurrent(entry.event, now)) events.push(structuredClone(entry.event));
    }
    return orderTrail(events);
  }

  async query(filter: AuditFilter, after: string | null, limit: number): Promise<AuditPage> {
    const now = Date.now();
    this.dropOld(now);
    let index = after === null ? this.head : this.firstAfter(after);
    const events: AuditEvent[] = [];
    let scanned = 0;
    let last: Entry | undefined;
    while (index < this.entries.length && events.length < limit && scanned < AUDIT_SCAN_BUDGET) {
      const entry = this.entries[index++];
      scanned++;
      last = entry;
      if (this.isCurrent(entry.event, now) && matchesFilter(entry.event, filter)) events.push(structuredClone(entry.event));
    }
    const more = index < this.entries.length;
    return { events, nextCursor: more && last ? `${last.ms}-${last.seq}` : null };
  }

  private isCurrent(event: AuditEvent, now: number): boolean {
    return event.at * 1000 >= now - this.retention.retentionMs;
  }

  /** Index of the first entry after the cursor (binary search: positions only grow). */
  private firstAfter(cursor: string): number {
    const [ms, seq] = cursor.split('-').map(Number);
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const entry = this.entries[middle];
      if (entry.ms < ms || (entry.ms === ms && entry.seq <= seq)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Drops from the oldest end what is past retention or past AUDIT_MAX_EVENTS. */
  private dropOld(now: number): void {
    const oldest = now - this.retention.retentionMs;
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head];
      if (this.entries.length - this.head <= this.retention.maxEvents && entry.ms >= oldest) break;
      this.entries[this.head++] = undefined as unknown as Entry;
      const trail = this.byConfirmation.get(entry.event.callback_id);
      // The confirmation's oldest entry is this one, unless its own cap already dropped it.
      if (trail?.[0] === entry) trail.shift();
      if (trail?.length === 0) this.byConfirmation.delete(entry.event.callback_id);
    }
    if (this.head > 1024 && this.head * 2 >= this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}
