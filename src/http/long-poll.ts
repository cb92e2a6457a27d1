import { HttpStatus } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ErrorCode } from '../protocol/error-code.enum.js';

/** A signal that aborts when the HTTP caller goes away, so its wait stops holding memory. */
export function abortWhenClosed(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // 'close' also follows every finished response; aborting then would only build a
  // DOMException per request for nobody.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/**
 * The wait ended without a decision (the server is stopping): 503 with Retry-After, so
 * the caller retries, with the same callback_id, here or on another instance.
 */
export function answerStillPending(reply: FastifyReply, callbackId: string) {
  void reply.status(HttpStatus.SERVICE_UNAVAILABLE).header('retry-after', '1');
  return {
    statusCode: HttpStatus.SERVICE_UNAVAILABLE,
    code: ErrorCode.Unavailable,
    message: 'No decision yet; retry with the same callback_id',
    callback_id: callbackId,
  };
}
