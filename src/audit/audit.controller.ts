import { Controller, Get, Headers, HttpStatus, Res } from '@nestjs/common';
import { IdParam, ValidQuery } from '../http/route-input.js';
import { ApiOkResponse, ApiProduces, ApiTags } from '../docs/api-decorators.js';
import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';
import { ApiErrors, ApiSharedState } from '../docs/api-errors.decorator.js';
import { AuditPageSchema, ConfirmationTrailSchema } from '../docs/response-schemas.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { MAX_AUDIT_PAGE } from './audit-event.js';
import { AuditTrail } from './audit-trail.service.js';
import { AuditFilter, AuditPage, AuditStore } from './audit.store.js';
import { AuditQueryDto, MAX_AUDIT_EXPORT } from './dto/audit-query.dto.js';

const DEFAULT_PAGE = 100;
const NDJSON = 'application/x-ndjson';

/**
 * The audit trail, read-only: no route changes or removes an event (docs/AUDIT.md). Each
 * read first writes what this instance still has queued, so it sees its own events.
 */
@ApiTags('audit')
@ApiSharedState()
@Controller()
export class AuditController {
  constructor(
    private readonly trail: AuditTrail,
    private readonly store: AuditStore,
  ) {}

  @Get('confirmations/:callback_id/events')
  @ApiOkResponse({ schema: ConfirmationTrailSchema, description: "The confirmation's audit events in the order they happened" })
  async events(@IdParam('callback_id') callbackId: string) {
    await this.trail.flush();
    return { callback_id: callbackId, events: await this.store.trail(callbackId) };
  }

  @Get('audit')
  @ApiProduces('application/json', NDJSON)
  @ApiOkResponse({
    schema: AuditPageSchema,
    description: `A page of the deployment's audit events in the order written. As NDJSON (\`?format=ndjson\` or \`Accept: ${NDJSON}\`): one event per line, up to \`limit\` (at most ${MAX_AUDIT_EXPORT}), then a last line \`{"next_cursor": ...}\``,
  })
  @ApiErrors(ErrorCode.InvalidMessage)
  async query(@ValidQuery() query: AuditQueryDto, @Headers('accept') accept: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    const filter = filterOf(query);
    const ndjson = query.format === 'ndjson' || (query.format === undefined && accept?.includes(NDJSON) === true);
    const limit = query.limit ?? (ndjson ? MAX_AUDIT_EXPORT : DEFAULT_PAGE);
    if (!ndjson && limit > MAX_AUDIT_PAGE) throw new GatewayError(ErrorCode.InvalidMessage, `limit must not be greater than ${MAX_AUDIT_PAGE} (an NDJSON export takes up to ${MAX_AUDIT_EXPORT})`);
    await this.trail.flush();
    // The first page is read before anything is sent: a failure is still an error answer.
    const first = await this.store.query(filter, query.cursor ?? null, Math.min(limit, MAX_AUDIT_PAGE));
    if (!ndjson) return { events: first.events, next_cursor: first.nextCursor };
    void reply.status(HttpStatus.OK).header('content-type', NDJSON);
    return Readable.from(this.exportLines(filter, first, limit));
  }

  /** The export's lines: the events, page after page, then `{"next_cursor": ...}`. */
  private async *exportLines(filter: AuditFilter, first: AuditPage, limit: number): AsyncGenerator<string> {
    let page = first;
    let sent = 0;
    for (;;) {
      if (page.events.length > 0) yield page.events.map((event) => `${JSON.stringify(event)}\n`).join('');
      sent += page.events.length;
      if (page.nextCursor === null || sent >= limit) break;
      page = await this.store.query(filter, page.nextCursor, Math.min(limit - sent, MAX_AUDIT_PAGE));
    }
    yield `${JSON.stringify({ next_cursor: page.nextCursor })}\n`;
  }
}

function filterOf(query: AuditQueryDto): AuditFilter {
  const filter: AuditFilter = { userId: query.user_id, taskId: query.task_id, since: timeOf('since', query.since), until: timeOf('until', query.until) };
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    throw new GatewayError(ErrorCode.InvalidMessage, 'since must not be after until');
  }
  return filter;
}

/** Epoch ms of `since` or `until`: epoch seconds, or an ISO 8601 date-time. */
function timeOf(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^[\d.]+$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (!Number.isFinite(ms)) throw new GatewayError(ErrorCode.InvalidMessage, `${name} must be epoch seconds or an ISO 8601 date-time`);
  return ms;
}
