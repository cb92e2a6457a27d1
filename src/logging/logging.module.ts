import { DynamicModule, LogLevel, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule, Params } from 'nestjs-pino';
import { destination, pino, stdTimeFunctions, type DestinationStream, type LevelWithSilent, type Logger as PinoLogger } from 'pino';
import type { Options } from 'pino-http';
import type { Environment, LOG_LEVELS } from '../config/environment.js';
import { escapeControlCharacters } from './control-characters.js';
import { REDACTED, REDACTED_PATHS } from './redaction.js';

export interface LoggingOptions {
  /** Overrides LOG_LEVEL: the most verbose of these is the level; false logs nothing (tests). */
  logLevels?: LogLevel[] | false;
}

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
 * development. The lines an HTTP request causes carry its `reqId` (the request line from the
 * request-log hooks, which app.factory registers; the others pass it on).
 */
@Module({})
export class LoggingModule {
  static forRoot(options: LoggingOptions = {}): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          inject: [ConfigService],
          useFactory: async (config: ConfigService<Environment, true>): Promise<Params> => ({
            // nestjs-pino's own pino-http middleware is not mounted (see request-log.hook.ts);
            // the options configure the one pino logger everything logs through.
            forRoutes: [],
            pinoHttp: pinoOptions(
              levelOf(options.logLevels, config.get('LOG_LEVEL', { infer: true })),
              config.get('NODE_ENV', { infer: true }) === 'development' ? await readableLines() : undefined,
            ),
          }),
        }),
      ],
    };
  }
}

/**
 * For a start that fails before the app's logger exists (a refused configuration): the
 * format the app logs in (readable lines in development, which is the default, JSON
 * otherwise), written synchronously so the line is out before the process exits.
 */
export async function startupLogger(nodeEnv: unknown, context: string): Promise<PinoLogger> {
  const development = nodeEnv === undefined || nodeEnv === 'development';
  const stream = development ? await readableLines() : destination({ fd: 1, sync: true });
  return pino(loggerOptions('info'), stream).child({ context });
}

function levelOf(levels: LogLevel[] | false | undefined, configured: (typeof LOG_LEVELS)[number]): LevelWithSilent {
  if (levels === false) return 'silent';
  if (levels === undefined) return PINO_LEVEL[configured];
  return levels.map((level) => PINO_LEVEL[level]).reduce((a, b) => (VERBOSITY.indexOf(a) >= VERBOSITY.indexOf(b) ? a : b), 'silent');
}

function pinoOptions(level: LevelWithSilent, stream?: DestinationStream): Options | [Options, DestinationStream] {
  const options = loggerOptions(level);
  return stream ? [options, stream] : options;
}

function loggerOptions(level: LevelWithSilent): Options {
  return {
    level,
    // req and res are logged as the plain fields the request-log hooks give, not serialized.
    wrapSerializers: false,
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: REDACTED },
  };
}

/**
 * Development: one readable, synchronous line per entry, e.g. `12:00:01.123 INFO [TaskGateway] ...`.
 * The message and context are written with their control characters escaped: they hold
 * ids and other values from clients, and a raw newline in one would forge a line of its
 * own (the other fields are printed as JSON, escaped already). Stack traces stay on their
 * line too. Imported only here, so production and test processes do not load it.
 */
function readableMessage(log: Record<string, unknown>, messageKey: string): string {
  const context = typeof log.context === 'string' ? `[${log.context}] ` : '';
  return escapeControlCharacters(`${context}${String(log[messageKey] ?? '')}`);
}

async function readableLines(): Promise<DestinationStream> {
  const { default: PinoPretty } = await import('pino-pretty');
  return PinoPretty({
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,context,req,res,responseTime,invalid',
    messageFormat: readableMessage,
    singleLine: true,
  });
}
