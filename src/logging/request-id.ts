import { randomUuid } from '../common/random-uuid.js';
import type { IncomingHttpHeaders } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller's X-Request-Id may look like to be taken over; anything else gets a new id. */
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * Fastify's genReqId: the caller's `X-Request-Id` when it is a plausible id, else a new
 * UUID. Fastify hands the id to hooks as `request.id` (see request-log.hook.ts).
 */
export function requestIdOf(request: { headers: IncomingHttpHeaders }): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && ACCEPTED_REQUEST_ID.test(given) ? given : randomUuid();
}
