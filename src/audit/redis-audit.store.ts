import type { RedisService } from '../redis/redis.service.js';
import { AUDIT_SCAN_BUDGET, AuditEvent, MAX_EVENTS_PER_CONFIRMATION, orderTrail } from './audit-event.js';
import { AuditFilter, AuditPage, AuditRetention, AuditStore, matchesFilter } from './audit.store.js';

/**
 * How far an event's time (the instance's clock) may lie before its stream id (Redis's
 * clock when the batch was written) for a time-range query to still find it: queue delay
 * and clock skew. Events written later than this (a queue that waited out an outage) stay
 * in their confirmation's trail but can fall outside a `since` range.
 */
const WRITE_DELAY_SLACK_MS = 60_000;
/** Entries read per XRANGE while a filter skips some. */
const FILTERED_CHUNK = 1000;

/**
 * Redis Streams: each event is one entry (field `e`, the event's JSON) in two streams, the
 * deployment's (`{audit}:events`, trimmed by MINID to the retention, for queries in the
 * order written; its ids are the cursors) and its confirmation's (`{cb:<id>}:audit`, in
 * the slot of the confirmation's callback index, capped at MAX_EVENTS_PER_CONFIRMATION
 * and expiring a retention after its last event). Redis orders concurrent writers' entries
 * itself; a batch's commands go out in one write per node (the command connection
 * pipelines what is issued in one tick).
 */
export class RedisAuditStore extends AuditStore {
  constructor(
    private readonly shared: RedisService,
    private readonly retention: AuditRetention,
  ) {
    super();
  }

  private get globalStream(): string {
    return this.shared.key('{audit}', 'events');
  }

  private confirmationStream(callbackId: string): string {
    return `${this.shared.idKey('cb', callbackId)}:audit`;
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const redis = this.shared.commands;
    const { retentionMs } = this.retention;
    const minId = String(Math.max(0, Date.now() - retentionMs));
    const global = this.globalStream;
    const writes: Array<Promise<unknown>> = [];
    const streams = new Set<string>();
    for (const event of events) {
      const json = JSON.stringify(event);
      const stream = this.confirmationStream(event.callback_id);
      streams.add(stream);
      writes.push(redis.xadd(global, 'MINID', '~', minId, '*', 'e', json));
      writes.push(redis.xadd(stream, 'MAXLEN', MAX_EVENTS_PER_CONFIRMATION, '*', 'e', json));
    }
    for (const stream of streams) writes.push(redis.pexpire(stream, retentionMs));
    // Trimmed on every write; when writes stop, the whole stream goes once its newest event is past retention.
    writes.push(redis.pexpire(global, retentionMs));
    await Promise.all(writes);
  }

  trail(callbackId: string): Promise<AuditEvent[]> {
    return this.shared.run(async () => {
      const entries = await this.shared.commands.xrange(this.confirmationStream(callbackId), '-', '+');
      const oldest = Date.now() - this.retention.retentionMs;
      return orderTrail(entries.map(parseEntry).filter((event) => event.at * 1000 >= oldest));
    });
  }

  query(filter: AuditFilter, after: string | null, limit: number): Promise<AuditPage> {
    return this.shared.run(async () => {
      const oldest = Date.now() - this.retention.retentionMs;
      let start = after !== null ? `(${after}` : String(Math.max(0, Math.max(oldest, filter.since ?? 0) - WRITE_DELAY_SLACK_MS));
      const end = filter.until !== undefined ? String(filter.until + WRITE_DELAY_SLACK_MS) : '+';
      const filtered = filter.userId !== undefined || filter.taskId !== undefined || filter.since !== undefined || filter.until !== undefined;
      const events: AuditEvent[] = [];
      let scanned = 0;
      let lastId: string | null = null;
      for (;;) {
        const count = Math.min(AUDIT_SCAN_BUDGET - scanned, filtered ? FILTERED_CHUNK : limit - events.length);
        const entries = await this.shared.commands.xrange(this.globalStream, start, end, 'COUNT', count);
        for (const entry of entries) {
          scanned++;
          lastId = entry[0];
          const event = parseEntry(entry);
          if (event.at * 1000 >= oldest && matchesFilter(event, filter)) events.push(event);
          if (events.length === limit) return { events, nextCursor: lastId };
        }
        if (entries.length < count) return { events, nextCursor: null };
        if (scanned >= AUDIT_SCAN_BUDGET) return { events, nextCursor: lastId };
        start = `(${lastId}`;
      }
    });
  }
}

function parseEntry([, fields]: [string, string[]]): AuditEvent {
  return JSON.parse(fields[1]) as AuditEvent;
}
