import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import type { Level, Logger } from 'pino';
import { redactUrl } from './redaction.js';
import { REQUEST_ID_HEADER } from './request-id.js';

/**
 * Every HTTP request: echoes its id (Fastify's, see requestIdOf) in `X-Request-Id` and logs
 * one line, with `reqId`, when the response is done, at debug (info for 4xx, error for 5xx and aborted
 * requests) so the default level has none for normal traffic.
 *
 * Fastify hooks rather than a Nest middleware: Nest runs middleware on Fastify through
 * @fastify/middie, which measured at about 60 µs of a 160 µs targeted push. And rather than
 * pino-http, which builds two child loggers and serializes the request on every request.
 * Registered first, so refusals by later hooks (a missing API key) are logged too.
 *
 * No async logging context (nestjs-pino's runInContext): on Node 20 an AsyncLocalStorage
 * turns on promise hooks for every promise in the process, which measured at about 13% of
 * the CPU of a confirm round trip. The lines a request causes name it themselves (`reqId`).
 */
export function logRequests(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    logOutcome(PinoLogger.root, request, reply);
    done();
  });
  fastify.addHook('onRequestAbort', (request, done) => {
    logOutcome(PinoLogger.root, request);
    done();
  });
}

/** Request lines' `context`; the service's other lines carry the class that logged. */
const CONTEXT = 'HTTP';

/** One line per request; `reply` is missing when the client went away first. */
function logOutcome(log: Logger, request: FastifyRequest, reply?: FastifyReply): void {
  const status = reply?.statusCode;
  const level: Level = status === undefined || status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
  if (!log.isLevelEnabled(level)) return;
  const url = redactUrl(request.url);
  const req = { method: request.method, url };
  if (status === undefined) {
    log[level]({ context: CONTEXT, reqId: request.id, req }, `${request.method} ${url} aborted by the client`);
    return;
  }
  const responseTime = Math.round(reply?.elapsedTime ?? 0);
  log[level]({ context: CONTEXT, reqId: request.id, req, res: { statusCode: status }, responseTime }, `${request.method} ${url} ${status} in ${responseTime} ms`);
}
