import type { AuditEvent } from './audit-event.js';

/** Which events a query wants; every field optional, times in epoch ms (inclusive). */
export interface AuditFilter {
  userId?: string;
  taskId?: string;
  since?: number;
  until?: number;
}

export interface AuditPage {
  events: AuditEvent[];
  /** Where the next page starts; null when nothing more was there at the time of the read. */
  nextCursor: string | null;
}

export interface AuditRetention {
  /** Events older than this are gone (AUDIT_RETENTION_DAYS). */
  retentionMs: number;
  /** Memory mode: events kept at most, the oldest dropped first (AUDIT_MAX_EVENTS). */
  maxEvents: number;
}

/**
 * Where audit events are kept: append-only (no method changes or removes one), forgotten
 * after their retention. The contract is test/contracts/audit-store.spec.ts.
 */
export abstract class AuditStore {
  /** Appends events in the order given (one round trip per backend node at most). */
  abstract append(events: readonly AuditEvent[]): Promise<void>;

  /** One confirmation's events, in the order they happened (orderTrail), its newest MAX_EVENTS_PER_CONFIRMATION. */
  abstract trail(callbackId: string): Promise<AuditEvent[]>;

  /**
   * A page of the deployment's events in the order they were written, after the cursor
   * (from the oldest without one): at most `limit`, reading at most AUDIT_SCAN_BUDGET
   * entries. Events appended meanwhile come after the cursor, so paging neither skips nor
   * repeats an event.
   */
  abstract query(filter: AuditFilter, after: string | null, limit: number): Promise<AuditPage>;
}

/** True when the event passes the filter (times of the filter in epoch ms). */
export function matchesFilter(event: AuditEvent, filter: AuditFilter): boolean {
  if (filter.userId !== undefined && event.user_id !== filter.userId) return false;
  if (filter.taskId !== undefined && event.task_id !== filter.taskId) return false;
  const atMs = Math.round(event.at * 1000);
  if (filter.since !== undefined && atMs < filter.since) return false;
  if (filter.until !== undefined && atMs > filter.until) return false;
  return true;
}
