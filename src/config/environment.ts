import { applyDecorators } from '@nestjs/common';
import { plainToInstance, Transform } from 'class-transformer';
import { MAX_TIMER_SECONDS } from '../common/timers.js';
import { ConfigurationError, ConfigurationProblem } from './configuration.error.js';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, IsUrl, Matches, Max, Min, MinLength, ValidateBy, validateSync } from 'class-validator';

export const TIMEOUT_DECISIONS = ['proceed', 'reject'] as const;
export type TimeoutDecision = (typeof TIMEOUT_DECISIONS)[number];

/** WEBSOCKET_MAX_CALLBACK_TIMEOUT's largest value: 30 days (longer than one timer holds). */
export const MAX_CALLBACK_TIMEOUT_SECONDS = 30 * 86400;

/** The longest one HTTP call may be held waiting for a decision (GET /confirmations' wait_seconds limit). */
export const MAX_LONG_POLL_SECONDS = 300;

export const AUTH_MODES = ['none', 'jwt'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export const NODE_ENVS = ['development', 'production', 'test'] as const;
export const LOG_LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;

const toNumber = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() !== '' ? Number(value) : value;

const toBoolean = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const normalized = value.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(normalized)) return true;
  if (['false', '0', 'no'].includes(normalized)) return false;
  return value;
};

/** An integer setting read from a string, at least `min` (and at most `max`). */
function IntSetting(min: number, max?: number): PropertyDecorator {
  return applyDecorators(Transform(toNumber), IsInt(), Min(min), ...(max === undefined ? [] : [Max(max)]));
}

/** A number setting read from a string, at least `min` (and at most `max`). */
function NumberSetting(min: number, max?: number): PropertyDecorator {
  return applyDecorators(Transform(toNumber), IsNumber(), Min(min), ...(max === undefined ? [] : [Max(max)]));
}

/** A yes/no setting: true/false, 1/0 or yes/no. */
function BooleanSetting(): PropertyDecorator {
  return applyDecorators(Transform(toBoolean), IsBoolean());
}

/** redis://[user:password@]host[:port][/db] or rediss://… (TLS). */
function IsRedisUrl(): PropertyDecorator {
  return ValidateBy({
    name: 'isRedisUrl',
    validator: {
      validate: (value) => typeof value === 'string' && parsesAsRedisUrl(value),
      defaultMessage: () => 'must look like redis://[user:password@]host[:port][/db] (rediss:// for TLS)',
    },
  });
}

function parsesAsRedisUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '' && /^(\/\d*)?$/.test(url.pathname);
  } catch {
    return false;
  }
}

/** "a, b,,c" -> ["a", "b", "c"] */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

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

  @IntSetting(0, 65535)
  WEBSOCKET_PORT = 8765;

  @IntSetting(1)
  WEBSOCKET_MAX_CONNECTIONS = 1000;

  /**
   * Connections being opened at once (reading their catch-up and positions from the history)
   * past which the next is closed with 1013, so a reconnect storm cannot exhaust Redis or memory.
   */
  @IntSetting(1)
  WEBSOCKET_MAX_CONCURRENT_HANDSHAKES = 200;

  /** Seconds between protocol-level pings to every connection. */
  @NumberSetting(0.05, MAX_TIMER_SECONDS)
  WEBSOCKET_PING_INTERVAL = 30;

  /** Seconds a connection may take to answer a ping before it is terminated. */
  @NumberSetting(0.05, MAX_TIMER_SECONDS)
  WEBSOCKET_PING_TIMEOUT = 10;

  /** Default seconds a confirmation waits for its user. */
  @NumberSetting(0.05, MAX_TIMER_SECONDS)
  WEBSOCKET_CALLBACK_TIMEOUT = 300;

  /**
   * Longest `timeout_seconds` a caller may ask for: up to 30 days. A decision's lifetime is
   * not one HTTP call's: POST /notify holds a caller at most NOTIFY_MAX_WAIT_SECONDS.
   */
  @NumberSetting(1, MAX_CALLBACK_TIMEOUT_SECONDS)
  WEBSOCKET_MAX_CALLBACK_TIMEOUT = 86400;

  /**
   * Seconds POST /notify (and a GET /confirmations/:id long poll) holds its caller; a
   * confirmation still pending by then is answered 202 with where to poll for it.
   */
  @NumberSetting(1, MAX_LONG_POLL_SECONDS)
  NOTIFY_MAX_WAIT_SECONDS = 50;

  /** What a confirmation that nobody answered decides. */
  @IsIn(TIMEOUT_DECISIONS)
  WEBSOCKET_TIMEOUT_DECISION: TimeoutDecision = 'proceed';

  /** Largest client frame in bytes; a larger one closes the connection with 1009. */
  @IntSetting(256)
  WEBSOCKET_MAX_MESSAGE_BYTES = 65536;

  /**
   * Offer permessage-deflate to clients. Off by default: each connection that compresses
   * holds its own zlib streams (see docs/PERFORMANCE.md for the measured cost), and a
   * broadcast is compressed once per socket instead of framed once for all.
   */
  @BooleanSetting()
  WEBSOCKET_PERMESSAGE_DEFLATE = false;

  /** Seconds a settled confirmation (and a task's cancellation) stays readable. */
  @NumberSetting(1)
  CONFIRMATION_RETENTION_SECONDS = 3600;

  /** Settled confirmations kept readable at most; past it the oldest are dropped early. */
  @IntSetting(1)
  CONFIRMATION_MAX_RETAINED = 100_000;

  /** Largest REST request body in bytes. */
  @IntSetting(1024)
  HTTP_MAX_BODY_BYTES = 1048576;

  /**
   * Seconds a client may take to send a request's headers; past it the answer is 408 and
   * the connection closes. Slow-header clients cannot hold sockets.
   */
  @NumberSetting(0.1, 3600)
  HTTP_HEADERS_TIMEOUT_SECONDS = 10;

  /**
   * Seconds a client may take to send a whole request, headers and body. Only the receiving
   * is timed: a long-poll or a POST /notify waiting for its decision is not cut.
   */
  @NumberSetting(0.1, 3600)
  HTTP_REQUEST_TIMEOUT_SECONDS = 30;

  /**
   * HTTP connections that hold no complete request (still sending headers or a body, or idle
   * between keep-alive requests). Past it the oldest of them are closed (those pending for a
   * second or more; any past twice the cap), so a flood of slow or idle connections cannot
   * use up the process's file descriptors, and a new one (a health probe) always gets in. Connections whose request is being answered (long-polls,
   * waiting POST /notify) and WebSockets (WEBSOCKET_MAX_CONNECTIONS) are not counted.
   */
  @IntSetting(1)
  HTTP_MAX_PENDING_CONNECTIONS = 256;

  /** `jwt`: sockets must present a verified token. `none`: `?user_id=` is trusted (local use only). */
  @IsIn(AUTH_MODES)
  AUTH_MODE: AuthMode = 'none';

  /** Lets NODE_ENV=production run with AUTH_MODE=none. */
  @BooleanSetting()
  ALLOW_INSECURE_AUTH_NONE = false;

  /** HS256 shared secret (at least 32 characters). */
  @IsOptional()
  @IsString()
  @MinLength(32)
  JWT_SECRET?: string;

  /** PEM public key (SPKI) for RS256 or ES256 tokens. */
  @IsOptional()
  @IsString()
  JWT_PUBLIC_KEY?: string;

  /** A JWKS document URL for RS256 or ES256 tokens. */
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  JWT_JWKS_URL?: string;

  @IsOptional()
  @IsString()
  JWT_AUDIENCE?: string;

  @IsOptional()
  @IsString()
  JWT_ISSUER?: string;

  /** The token claim (an array of strings) holding the user's groups, for approvers named by group. */
  @IsString()
  @MinLength(1)
  AUTH_GROUPS_CLAIM = 'groups';

  /** Comma-separated keys task services present as `Authorization: Bearer <key>`. */
  @IsString()
  API_KEYS = '';

  /** Comma-separated origins browsers may connect from; empty allows any. */
  @IsString()
  WEBSOCKET_ALLOWED_ORIGINS = '';

  /** A user's connection past this many closes their oldest one (4008). */
  @IntSetting(1)
  WEBSOCKET_MAX_CONNECTIONS_PER_USER = 20;

  /** Frames per second a connection may send on average. */
  @NumberSetting(0.1)
  WEBSOCKET_RATE_LIMIT = 20;

  /** Frames a connection may send in a burst. */
  @IntSetting(1)
  WEBSOCKET_RATE_BURST = 40;

  /** Refused frames within 10 s after which the connection is closed with 1008. */
  @IntSetting(1)
  WEBSOCKET_RATE_ABUSE_LIMIT = 200;

  /** Unsent bytes a connection may have queued before it is closed as a slow consumer (1013). */
  @IntSetting(1024)
  WEBSOCKET_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

  /** Pending confirmations one user may have; past it POST /notify answers 429. */
  @IntSetting(1)
  CONFIRMATION_MAX_PENDING_PER_USER = 100;

  /** Pending confirmations in all; past it POST /notify answers 429. */
  @IntSetting(1)
  CONFIRMATION_MAX_PENDING_TOTAL = 100_000;

  /** Seconds a SIGTERM'd process may take to drain before it exits anyway. */
  @NumberSetting(0.1, MAX_TIMER_SECONDS)
  SHUTDOWN_GRACE_SECONDS = 10;

  /** Serve the inbox page at /inbox. Unset: served, except with NODE_ENV=production. */
  @IsOptional()
  @BooleanSetting()
  INBOX_PAGE_ENABLED?: boolean;

  /**
   * One-click action links (`links` on POST /notify, served at /a/<token>). Unset: on,
   * except with NODE_ENV=production, where they need LINK_SIGNING_SECRET and PUBLIC_BASE_URL.
   */
  @IsOptional()
  @BooleanSetting()
  ACTION_LINKS_ENABLED?: boolean;

  /**
   * Comma-separated secrets (each at least 32 characters) that sign action links: the first
   * signs, every one verifies (rotation). Unset outside production: a random secret of this
   * process (links die with it and do not work on other instances).
   */
  @IsOptional()
  @IsString()
  @ValidateBy({
    name: 'isSigningSecretList',
    validator: {
      validate: (value) => typeof value === 'string' && splitList(value).length >= 1 && splitList(value).length <= 8 && splitList(value).every((secret) => secret.length >= 32),
      defaultMessage: () => 'must be 1 to 8 comma-separated secrets of at least 32 characters each',
    },
  })
  LINK_SIGNING_SECRET?: string;

  /**
   * The gateway's address as people reach it (e.g. https://approvals.example.com), the
   * start of every action link. Unset outside production: the address the request came to.
   */
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  PUBLIC_BASE_URL?: string;

  /** Serve the API documents at /docs (UI) and /docs/json, without a key. Default: on except in production. */
  @IsOptional()
  @BooleanSetting()
  DOCS_ENABLED?: boolean;

  /** Longest a heartbeat runs when its caller gives no `duration_seconds`. */
  @NumberSetting(1)
  HEARTBEAT_DEFAULT_DURATION_SECONDS = 3600;

  /**
   * Frames kept per stream (each user's, each task's, the broadcasts') for clients that
   * resume after a reconnect; 0 turns history and offsets off.
   */
  @IntSetting(0, 100_000)
  HISTORY_SIZE = 300;

  /**
   * Bytes of frames kept per stream (each user's, each task's, the broadcasts'); the oldest
   * go first past it, so a client back after a large burst is told "not recovered".
   */
  @IntSetting(1024)
  HISTORY_MAX_BYTES_PER_STREAM = 2 * 1024 * 1024;

  /**
   * Bytes of frames kept in all streams of one memory-mode process; the oldest frame of all
   * goes first past it. Cluster mode bounds Redis with its maxmemory instead (README).
   */
  @IntSetting(1024)
  HISTORY_MAX_BYTES_TOTAL = 64 * 1024 * 1024;

  /** Seconds a kept frame stays recoverable. */
  @NumberSetting(1, MAX_TIMER_SECONDS)
  HISTORY_TTL_SECONDS = 600;

  /**
   * Seconds a stream's epoch and offset outlive its last frame, so a client back after a
   * longer gap is told "not recovered" instead of meeting a new epoch.
   */
  @NumberSetting(1, MAX_TIMER_SECONDS)
  HISTORY_META_TTL_SECONDS = 86400;

  /** Seconds a message sent with `requires_ack` waits for its ack when the caller gives no `ack_timeout_seconds`. */
  @NumberSetting(1, MAX_TIMER_SECONDS)
  ACK_DEFAULT_TIMEOUT_SECONDS = 300;

  /** Days a confirmation's audit events are kept (fractions allowed, at least one second); nothing else removes them. */
  @NumberSetting(1 / 86_400, 3650)
  AUDIT_RETENTION_DAYS = 30;

  /** Memory mode: audit events kept at most in this process; past it the oldest go first. */
  @IntSetting(100)
  AUDIT_MAX_EVENTS = 20_000;

  /**
   * Cluster mode: every instance pointing at the same Redis acts as one service
   * (`redis://[:password@]host:port/db`, `rediss://` for TLS). Unset: one instance, in memory.
   */
  @IsOptional()
  @IsRedisUrl()
  REDIS_URL?: string;

  /** REDIS_URL is one node of a Redis Cluster (every key an atomic step touches shares a hash slot). */
  @BooleanSetting()
  REDIS_CLUSTER = false;

  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  @Matches(/^[A-Za-z0-9_:.-]{1,64}$/, { message: 'REDIS_KEY_PREFIX: 1-64 letters, digits or _:.-' })
  REDIS_KEY_PREFIX = 'cgw:';

  /** Seconds a Redis command may take before it fails (the request then answers 503). */
  @NumberSetting(0.05, 60)
  REDIS_COMMAND_TIMEOUT_SECONDS = 2;

  /**
   * Cluster mode through Redis Sentinel: comma-separated `host:port` of the sentinels, which
   * name the current primary and tell every connection to follow it after a failover.
   */
  @IsOptional()
  @Matches(/^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/, { message: 'REDIS_SENTINELS: comma-separated host:port' })
  REDIS_SENTINELS?: string;

  /** The name the sentinels monitor the primary under (`sentinel monitor <name> …`). */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'REDIS_SENTINEL_MASTER_NAME: 1-64 letters, digits or _.-' })
  REDIS_SENTINEL_MASTER_NAME?: string;

  /** Password of the sentinels themselves (`requirepass` in sentinel.conf); the data password stays in REDIS_URL. */
  @IsOptional()
  @IsString()
  REDIS_SENTINEL_PASSWORD?: string;

  /**
   * Replicas that must hold a confirmation's creation and its decision before either is
   * acknowledged (Redis `WAIT`); 0 acknowledges once the primary has it.
   */
  @IntSetting(0, 16)
  REDIS_WAIT_REPLICAS = 0;

  /** Milliseconds `WAIT` may take; fewer replicas by then answers 503 instead of claiming durability. */
  @IntSetting(1, 60_000)
  REDIS_WAIT_TIMEOUT_MS = 500;

  /**
   * Decision webhooks (`callback_url` on POST /notify, WEBHOOK_DEFAULT_URL). Unset: on,
   * except in production without WEBHOOK_SECRETS (production never sends unsigned webhooks).
   */
  @IsOptional()
  @BooleanSetting()
  WEBHOOKS_ENABLED?: boolean;

  /** Where the webhooks of confirmations without a `callback_url` go. Unset: nowhere. */
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  WEBHOOK_DEFAULT_URL?: string;

  /**
   * Comma-separated signing secrets (`whsec_` + base64 of 24-64 random bytes). The first
   * signs; every one listed adds a signature, so a rotation lists the new and the old.
   */
  @Matches(/^\s*(whsec_[A-Za-z0-9+/]+={0,2}\s*(,\s*whsec_[A-Za-z0-9+/]+={0,2}\s*)*)?$/, { message: 'WEBHOOK_SECRETS: comma-separated whsec_<base64>' })
  WEBHOOK_SECRETS = '';

  /** Comma-separated hosts webhooks may go to (`*.example.com` for any name under it); empty: any public host. */
  @IsString()
  WEBHOOK_ALLOWED_HOSTS = '';

  /** Let webhooks reach private, loopback and link-local addresses (tests, private networks). */
  @BooleanSetting()
  WEBHOOK_ALLOW_PRIVATE = false;

  /** Milliseconds one attempt may take, connection to response. */
  @IntSetting(100, 120_000)
  WEBHOOK_TIMEOUT_MS = 10_000;

  /** Webhook deliveries waiting at most (in the deployment); past it a new webhook is dropped and logged. */
  @IntSetting(1)
  WEBHOOK_MAX_QUEUED = 100_000;

  /** Seconds a webhook is retried for (exponential back-off with full jitter) before it is given up. */
  @NumberSetting(1, 30 * 86400)
  WEBHOOK_RETRY_FOR_SECONDS = 86400;
}

/**
 * Builds the validated settings from raw variables. Throws one ConfigurationError naming
 * every bad variable, so a misconfigured start fails with a message an operator can act on.
 */
export function validateEnvironment(raw: Record<string, unknown>): Environment {
  const known = new Environment();
  const relevant: Record<string, unknown> = {};
  for (const key of Object.keys(known)) {
    if (raw[key] !== undefined && raw[key] !== '') relevant[key] = raw[key];
  }
  const env = plainToInstance(Environment, relevant, { exposeDefaultValues: true });
  const errors = validateSync(env, { forbidUnknownValues: false });
  const problems: ConfigurationProblem[] = errors.map((e) => ({
    variable: e.property,
    shownValue: shown(e.property, relevant[e.property]),
    problem: Object.values(e.constraints ?? {}).join('; '),
  }));
  if (problems.length === 0) problems.push(...[...securityProblems(env), ...redisProblems(env)].map(([variable, problem]) => ({ variable, problem })));
  if (problems.length > 0) throw new ConfigurationError(problems, relevant.NODE_ENV);
  return env;
}

const SECRET_VARIABLES = new Set(['JWT_SECRET', 'LINK_SIGNING_SECRET', 'API_KEYS', 'JWT_PUBLIC_KEY', 'REDIS_URL', 'REDIS_SENTINEL_PASSWORD', 'WEBHOOK_SECRETS', 'WEBHOOK_DEFAULT_URL']);

function shown(name: string, value: unknown): string {
  return SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(value);
}

/** Rules across variables: what production and token mode cannot run without, and timeouts that contradict each other. */
function securityProblems(env: Environment): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const production = env.NODE_ENV === 'production';
  if (env.AUTH_MODE === 'jwt' && !env.JWT_SECRET && !env.JWT_PUBLIC_KEY && !env.JWT_JWKS_URL) {
    problems.push(['AUTH_MODE', 'jwt needs JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL']);
  }
  if (production && env.AUTH_MODE === 'none' && !env.ALLOW_INSECURE_AUTH_NONE) {
    problems.push(['AUTH_MODE', 'none lets any client claim any user; production needs AUTH_MODE=jwt (or ALLOW_INSECURE_AUTH_NONE=true)']);
  }
  if (production && env.JWT_JWKS_URL?.startsWith('http:')) {
    problems.push(['JWT_JWKS_URL', 'production fetches signing keys over https only']);
  }
  if (production && splitList(env.API_KEYS).length === 0) {
    problems.push(['API_KEYS', 'production needs at least one key for the REST API']);
  }
  problems.push(...webhookProblems(env));
  if (production && actionLinksEnabled(env)) {
    if (!env.LINK_SIGNING_SECRET) problems.push(['LINK_SIGNING_SECRET', 'production signs action links with a secret of its own (ACTION_LINKS_ENABLED=true needs it; every instance the same)']);
    if (!env.PUBLIC_BASE_URL) problems.push(['PUBLIC_BASE_URL', 'production needs the address people reach the gateway at for action links (ACTION_LINKS_ENABLED=true)']);
  }
  if (env.HTTP_HEADERS_TIMEOUT_SECONDS > env.HTTP_REQUEST_TIMEOUT_SECONDS) {
    problems.push(['HTTP_HEADERS_TIMEOUT_SECONDS', 'must not exceed HTTP_REQUEST_TIMEOUT_SECONDS (the headers are part of the request)']);
  }
  return problems;
}

/** Webhook settings: secrets that decode to a usable key, and no unsigned webhooks in production. */
function webhookProblems(env: Environment): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const secrets = splitList(env.WEBHOOK_SECRETS);
  if (secrets.some((secret) => !usableWebhookSecret(secret))) {
    problems.push(['WEBHOOK_SECRETS', 'each secret must be whsec_ followed by the base64 of 24 to 64 bytes']);
  }
  if (env.NODE_ENV === 'production' && secrets.length === 0 && (env.WEBHOOKS_ENABLED === true || env.WEBHOOK_DEFAULT_URL !== undefined)) {
    problems.push(['WEBHOOK_SECRETS', 'production signs every webhook: set WEBHOOK_SECRETS (whsec_...) or turn webhooks off (WEBHOOKS_ENABLED=false, no WEBHOOK_DEFAULT_URL)']);
  }
  if (env.WEBHOOKS_ENABLED === false && env.WEBHOOK_DEFAULT_URL !== undefined) {
    problems.push(['WEBHOOK_DEFAULT_URL', 'is set while WEBHOOKS_ENABLED=false']);
  }
  return problems;
}

function usableWebhookSecret(secret: string): boolean {
  const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

/** Whether webhooks are sent: WEBHOOKS_ENABLED when set, else everywhere but a production without secrets. */
export function webhooksEnabled(env: Pick<Environment, 'WEBHOOKS_ENABLED' | 'WEBHOOK_SECRETS' | 'NODE_ENV' | 'WEBHOOK_DEFAULT_URL'>): boolean {
  if (env.WEBHOOKS_ENABLED !== undefined) return env.WEBHOOKS_ENABLED;
  return env.NODE_ENV !== 'production' || splitList(env.WEBHOOK_SECRETS).length > 0 || env.WEBHOOK_DEFAULT_URL !== undefined;
}

/**
 * Redis settings that only work together. Refused everywhere, not only in production: a
 * half-configured Sentinel would otherwise start in memory mode or on the wrong server.
 */
function redisProblems(env: Environment): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const sentinels = env.REDIS_SENTINELS !== undefined;
  if (sentinels && !env.REDIS_SENTINEL_MASTER_NAME) {
    problems.push(['REDIS_SENTINELS', 'needs REDIS_SENTINEL_MASTER_NAME (the name the sentinels monitor the primary under)']);
  }
  if (!sentinels && env.REDIS_SENTINEL_MASTER_NAME) {
    problems.push(['REDIS_SENTINEL_MASTER_NAME', 'needs REDIS_SENTINELS (host:port of each sentinel)']);
  }
  if (!sentinels && env.REDIS_SENTINEL_PASSWORD) {
    problems.push(['REDIS_SENTINEL_PASSWORD', 'needs REDIS_SENTINELS (host:port of each sentinel)']);
  }
  if (sentinels && env.REDIS_CLUSTER) {
    problems.push(['REDIS_CLUSTER', 'a Redis Cluster fails over by itself; use REDIS_SENTINELS or REDIS_CLUSTER, not both']);
  }
  if (sentinels && env.REDIS_URL && env.REDIS_SENTINEL_MASTER_NAME && new URL(env.REDIS_URL).hostname !== env.REDIS_SENTINEL_MASTER_NAME) {
    problems.push(['REDIS_URL', 'with REDIS_SENTINELS it carries only the password, database and TLS of the primary: write the master name as its host (redis://:password@<REDIS_SENTINEL_MASTER_NAME>/0)']);
  }
  if (env.REDIS_WAIT_REPLICAS > 0 && !env.REDIS_URL && !sentinels) {
    problems.push(['REDIS_WAIT_REPLICAS', 'needs cluster mode (REDIS_URL or REDIS_SENTINELS): memory mode has no replicas']);
  }
  if (env.REDIS_WAIT_REPLICAS > 0 && env.REDIS_CLUSTER) {
    problems.push(['REDIS_WAIT_REPLICAS', 'is for one primary with replicas (REDIS_URL or REDIS_SENTINELS), not a Redis Cluster']);
  }
  if (env.REDIS_WAIT_REPLICAS > 0 && env.REDIS_WAIT_TIMEOUT_MS >= env.REDIS_COMMAND_TIMEOUT_SECONDS * 1000) {
    problems.push(['REDIS_WAIT_TIMEOUT_MS', 'must be below REDIS_COMMAND_TIMEOUT_SECONDS, or WAIT fails as a timed-out command instead of answering']);
  }
  return problems;
}

/** The sentinels of REDIS_SENTINELS as host and port. */
export function parseSentinels(value: string): Array<{ host: string; port: number }> {
  return splitList(value).map((entry) => {
    const colon = entry.lastIndexOf(':');
    return { host: entry.slice(0, colon), port: Number(entry.slice(colon + 1)) };
  });
}

/** Whether /docs is served: DOCS_ENABLED when set, else everywhere but production. */
export function docsEnabled(env: Pick<Environment, 'DOCS_ENABLED' | 'NODE_ENV'>): boolean {
  return env.DOCS_ENABLED ?? env.NODE_ENV !== 'production';
}

/** Whether action links are served: ACTION_LINKS_ENABLED when set, else everywhere but production. */
export function actionLinksEnabled(env: Pick<Environment, 'ACTION_LINKS_ENABLED' | 'NODE_ENV'>): boolean {
  return env.ACTION_LINKS_ENABLED ?? env.NODE_ENV !== 'production';
}
