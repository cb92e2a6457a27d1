import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { codeOfHttpStatus, ErrorCode, GatewayError, httpStatusOf } from '../protocol/error-code.enum.js';

export interface HttpErrorBody {
  statusCode: number;
  code: string;
  message: string;
  /** The field that is wrong, when the error names one (invalid_answer). */
  field?: string;
}

/** The body of a REST failure the service itself refuses. */
export function gatewayErrorBody(error: GatewayError): HttpErrorBody {
  const body: HttpErrorBody = { statusCode: httpStatusOf(error.code), code: error.code, message: error.message };
  if (error.field !== undefined) body.field = error.field;
  return body;
}

/** Refuses a request from a Fastify hook, before Nest (and this filter) see it. */
export function refuseFromHook(reply: FastifyReply, error: GatewayError): void {
  const body = gatewayErrorBody(error);
  void reply.status(body.statusCode).send(body);
}

/** One JSON error shape for every REST failure: `{statusCode, code, message}`. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    replyWithError(host.switchToHttp().getResponse<FastifyReply>(), exception);
  }
}

const logger = new Logger(HttpErrorFilter.name);

/** Sends what the filter sends for `exception`; also for refusals from Fastify hooks (route-input.ts). */
export function replyWithError(reply: FastifyReply, exception: unknown): void {
  if (isHealthReport(exception)) {
    void reply.status(exception.getStatus()).send(exception.getResponse());
    return;
  }
  const body = errorBodyOf(exception, reply.request.id);
  if (exception instanceof GatewayError && exception.retryAfterSeconds !== undefined) {
    void reply.header('retry-after', String(exception.retryAfterSeconds));
  }
  void reply.status(body.statusCode).header('content-type', 'application/json').send(body);
}

function errorBodyOf(exception: unknown, reqId: string): HttpErrorBody {
  if (exception instanceof GatewayError) return gatewayErrorBody(exception);
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const detail = typeof response === 'string' ? response : (response as { message?: unknown }).message;
    return {
      statusCode: status,
      code: codeOfHttpStatus(status),
      message: Array.isArray(detail) ? detail.join('; ') : String(detail ?? exception.message),
    };
  }
  const fastifyStatus = (exception as { statusCode?: unknown })?.statusCode;
  if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) {
    return {
      statusCode: fastifyStatus,
      code: codeOfHttpStatus(fastifyStatus),
      message: (exception as Error).message,
    };
  }
  logger.error({ reqId }, `Unhandled error: ${(exception as Error)?.stack ?? String(exception)}`);
  return { statusCode: HttpStatus.INTERNAL_SERVER_ERROR, code: ErrorCode.InternalError, message: 'Internal error' };
}

/** Terminus reports a failed check as an exception whose body is the health report. */
function isHealthReport(exception: unknown): exception is HttpException {
  if (!(exception instanceof HttpException)) return false;
  const response = exception.getResponse();
  return typeof response === 'object' && response !== null && 'details' in response;
}
