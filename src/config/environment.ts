import { plainToInstance, Transform } from 'class-transformer';
import { IsIn, IsInt, IsNumber, IsString, Max, Min, validateSync } from 'class-validator';

export const TIMEOUT_DECISIONS = ['proceed', 'reject'] as const;
export type TimeoutDecision = (typeof TIMEOUT_DECISIONS)[number];

export const NODE_ENVS = ['development', 'production', 'test'] as const;
export const LOG_LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;

const toNumber = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() !== '' ? Number(value) : value;

/**
 * Every setting the service reads, with its default. Values come from the process
 * environment (or `.env`), are converted and validated once at start-up, and are read
 * afterwards only through ConfigService.
 */
export class Environment {
  @IsIn(NODE_ENVS)
  NODE_ENV: (typeof NODE_ENVS)[number] = 'development';

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'log';

  @IsString()
  WEBSOCKET_HOST = '0.0.0.0';

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  @Max(65535)
  WEBSOCKET_PORT = 8765;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  WEBSOCKET_MAX_CONNECTIONS = 1000;

  /** Seconds between protocol-level pings to every connection. */
  @Transform(toNumber)
  @IsNumber()
  @Min(0.05)
  WEBSOCKET_PING_INTERVAL = 30;

  /** Seconds a connection may take to answer a ping before it is terminated. */
  @Transform(toNumber)
  @IsNumber()
  @Min(0.05)
  WEBSOCKET_PING_TIMEOUT = 10;

  /** Default seconds a confirmation waits for its user. */
  @Transform(toNumber)
  @IsNumber()
  @Min(0.05)
  WEBSOCKET_CALLBACK_TIMEOUT = 300;

  /** Longest `timeout_seconds` a caller may ask for. */
  @Transform(toNumber)
  @IsNumber()
  @Min(1)
  WEBSOCKET_MAX_CALLBACK_TIMEOUT = 86400;

  /** What a confirmation that nobody answered decides. */
  @IsIn(TIMEOUT_DECISIONS)
  WEBSOCKET_TIMEOUT_DECISION: TimeoutDecision = 'proceed';

  /** Largest client frame in bytes; a larger one closes the connection with 1009. */
  @Transform(toNumber)
  @IsInt()
  @Min(256)
  WEBSOCKET_MAX_MESSAGE_BYTES = 65536;

  /** Seconds a settled confirmation (and a task's cancellation) stays readable. */
  @Transform(toNumber)
  @IsNumber()
  @Min(1)
  CONFIRMATION_RETENTION_SECONDS = 3600;

  /** Largest REST request body in bytes. */
  @Transform(toNumber)
  @IsInt()
  @Min(1024)
  HTTP_MAX_BODY_BYTES = 1048576;

  /** Longest a heartbeat runs when its caller gives no `duration_seconds`. */
  @Transform(toNumber)
  @IsNumber()
  @Min(1)
  HEARTBEAT_DEFAULT_DURATION_SECONDS = 3600;
}

export type EnvironmentOverrides = Partial<Record<keyof Environment, string | number>>;

/**
 * Builds the validated settings from raw variables. Throws one error naming every bad
 * variable, so a misconfigured start fails with a message an operator can act on.
 */
export function validateEnvironment(raw: Record<string, unknown>): Environment {
  const known = new Environment();
  const relevant: Record<string, unknown> = {};
  for (const key of Object.keys(known)) {
    if (raw[key] !== undefined && raw[key] !== '') relevant[key] = raw[key];
  }
  const env = plainToInstance(Environment, relevant, { exposeDefaultValues: true });
  const errors = validateSync(env, { forbidUnknownValues: false });
  if (errors.length > 0) {
    const lines = errors.map(
      (e) => `  ${e.property}=${JSON.stringify(relevant[e.property])}: ${Object.values(e.constraints ?? {}).join('; ')}`,
    );
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return env;
}
