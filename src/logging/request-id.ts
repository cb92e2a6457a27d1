import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller's X-Request-Id may look like to be taken over; anything else gets a new id. */
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * Fastify's genReqId: the caller's `X-Request-Id` when it is a plausible id, else a new
 * UUID. Fastify hands the id to middleware as `req.id`, where pino-http takes it.
 */
export function requestIdOf(request: { headers: IncomingHttpHeaders }): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && ACCEPTED_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Middleware: the response carries the request's id, so a caller can quote it. */
export function echoRequestId(request: IncomingMessage & { id?: unknown }, response: ServerResponse, next: () => void): void {
  if (typeof request.id === 'string') response.setHeader(REQUEST_ID_HEADER, request.id);
  next();
}
