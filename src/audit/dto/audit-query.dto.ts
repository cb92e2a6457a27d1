import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { IsId } from '../../protocol/id.js';
import { AUDIT_CURSOR } from '../audit-event.js';

/** Events one NDJSON export carries at most (JSON pages: MAX_AUDIT_PAGE). */
export const MAX_AUDIT_EXPORT = 10_000;

/** Epoch seconds (fractions allowed) or an ISO 8601 date-time with a zone. */
const TIME = /^(\d{1,12}(\.\d{1,6})?|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))$/;

export class AuditQueryDto {
  /** Only this user's confirmations. */
  @IsOptional()
  @IsId()
  user_id?: string;

  /** Only this task's confirmations. */
  @IsOptional()
  @IsId()
  task_id?: string;

  /** Events at or after this time: epoch seconds or ISO 8601. */
  @IsOptional()
  @Matches(TIME)
  since?: string;

  /** Events at or before this time: epoch seconds or ISO 8601. */
  @IsOptional()
  @Matches(TIME)
  until?: string;

  /** Events per page (JSON: at most 500, default 100); of an NDJSON export (at most 10000, the default). */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_AUDIT_EXPORT)
  limit?: number;

  /** The `next_cursor` of the previous page. */
  @IsOptional()
  @Matches(AUDIT_CURSOR)
  cursor?: string;

  /** `ndjson`: one event per line (as with `Accept: application/x-ndjson`). */
  @IsOptional()
  @IsIn(['json', 'ndjson'])
  format?: 'json' | 'ndjson';
}
