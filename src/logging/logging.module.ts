import { DynamicModule, LogLevel, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule, Params } from 'nestjs-pino';
import { stdTimeFunctions, type DestinationStream, type LevelWithSilent } from 'pino';
import type { Options } from 'pino-http';
import PinoPretty from 'pino-pretty';
import type { Environment, LOG_LEVELS } from '../config/environment.js';
import { REDACTED, REDACTED_PATHS, redactUrl } from './redaction.js';
import { echoRequestId } from './request-id.js';

export interface LoggingOptions {
  /** Overrides LOG_LEVEL: the most verbose of these is the level; false logs nothing (tests). */
  logLevels?: LogLevel[] | false;
}

/**
 * nestjs-pino's default route pattern ({/*splat}) matches no request with the Fastify
 * adapter of Nest 12; `*` matches every one, unknown routes included.
 */
const EVERY_REQUEST = { path: '*', method: RequestMethod.ALL };

/** Nest's level names as pino names them. */
const PINO_LEVEL: Record<LogLevel, LevelWithSilent> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};
const VERBOSITY: LevelWithSilent[] = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * Logs through pino (nestjs-pino): JSON lines in production and test, readable lines in
 * development. Every line made while an HTTP request is handled carries its `reqId`.
 */
@Module({})
export class LoggingModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(echoRequestId).forRoutes(EVERY_REQUEST);
  }

  static forRoot(options: LoggingOptions = {}): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (config: ConfigService<Environment, true>): Params => ({
            forRoutes: [EVERY_REQUEST],
            pinoHttp: pinoOptions(
              levelOf(options.logLevels, config.get('LOG_LEVEL', { infer: true })),
              config.get('NODE_ENV', { infer: true }) === 'development' ? readableLines() : undefined,
            ),
          }),
        }),
      ],
    };
  }
}

function levelOf(levels: LogLevel[] | false | undefined, configured: (typeof LOG_LEVELS)[number]): LevelWithSilent {
  if (levels === false) return 'silent';
  if (levels === undefined) return PINO_LEVEL[configured];
  return levels.map((level) => PINO_LEVEL[level]).reduce((a, b) => (VERBOSITY.indexOf(a) >= VERBOSITY.indexOf(b) ? a : b), 'silent');
}

type RequestLogOptions = Options<IncomingMessage, ServerResponse>;

function pinoOptions(level: LevelWithSilent, stream?: DestinationStream): RequestLogOptions | [RequestLogOptions, DestinationStream] {
  const options: RequestLogOptions = {
    level,
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: REDACTED },
    // Fastify's request id (see requestIdOf), which middie copies to the raw request.
    genReqId: (request) => (request as { id?: string }).id ?? '',
    // Lines logged while handling a request carry its id only; the closing line has the rest.
    quietReqLogger: true,
    wrapSerializers: false,
    serializers: { req: requestLogFields, res: responseLogFields },
    // One line per request at debug level, so the default level has none for normal traffic.
    customLogLevel: (_request, response, err) => (err || response.statusCode >= 500 ? 'error' : response.statusCode >= 400 ? 'info' : 'debug'),
    customSuccessMessage: (request, response, ms) => `${request.method} ${urlOf(request)} ${response.statusCode} in ${ms} ms`,
    customErrorMessage: (request, response) => `${request.method} ${urlOf(request)} ${response.statusCode} failed`,
  };
  return stream ? [options, stream] : options;
}

type LoggedRequest = IncomingMessage & { id?: unknown; originalUrl?: string };

/**
 * No headers: nothing an Authorization or Cookie header holds can reach a log line. The
 * URL is the original one (middleware sees it with the matched path stripped).
 */
function requestLogFields(request: LoggedRequest) {
  return { id: request.id, method: request.method, url: urlOf(request) };
}

function urlOf(request: LoggedRequest): string | undefined {
  return redactUrl(request.originalUrl ?? request.url);
}

function responseLogFields(response: ServerResponse) {
  return { statusCode: response.statusCode };
}

/** Development: one readable, synchronous line per entry, e.g. `12:00:01.123 INFO [TaskGateway] ...`. */
function readableLines(): DestinationStream {
  return PinoPretty({
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,context,req,res,responseTime',
    messageFormat: '{if context}[{context}] {end}{msg}',
    singleLine: true,
  });
}
