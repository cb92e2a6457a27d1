import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyBodyParser, FastifyInstance, FastifyRequest } from 'fastify';
import type { Server as HttpServer } from 'node:http';
import { AppModule, AppModuleOptions } from './app.module.js';
import { requireApiKey } from './auth/api-key.hook.js';
import { ApiKeyService } from './auth/api-key.service.js';
import { Logger } from 'nestjs-pino';
import { docsEnabled, Environment } from './config/environment.js';
import { serveApiDocs } from './docs/api-docs.js';
import { GatewayWsAdapter } from './gateway/gateway-ws.adapter.js';
import { ServerStateService } from './health/server-state.service.js';
import { HttpErrorFilter, refuseFromHook } from './http/http-error.filter.js';
import { PendingConnectionCap } from './http/pending-connection-cap.js';
import { checkRouteInputs } from './http/route-input.js';
import { requestIdOf } from './logging/request-id.js';
import { MetricsService } from './metrics/metrics.service.js';
import { logRequests } from './logging/request-log.hook.js';
import { ErrorCode, GatewayError } from './protocol/error-code.enum.js';

/**
 * The signals that drain and stop the service (main.ts). Nest's default list also has SIGUSR2
 * and SIGQUIT, which operators use for heap snapshots (--heapsnapshot-signal) and diagnostics.
 */
export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** `logLevels` overrides LOG_LEVEL (tests keep the output quiet). */
export type CreateAppOptions = AppModuleOptions;

export interface RunningApp {
  app: NestFastifyApplication;
  host: string;
  port: number;
}

/** Builds the whole service: one port for HTTP and WebSocket. */
export async function createApp(options: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  const appModule = await AppModule.forRoot(options);
  const app = await NestFactory.create<NestFastifyApplication>(
    appModule,
    // A waiting POST /notify may legitimately take as long as its confirmation's
    // timeout, so no idle-socket timeout may cut it short (the time to receive a request
    // is limited instead, see limitConnections).
    // Ids may be 256 characters, so URL-encoded path parameters can be three times that.
    // A request's id comes from its X-Request-Id (validated) or is new; logs and the reply carry it.
    new FastifyAdapter({ requestTimeout: 0, connectionTimeout: 0, routerOptions: { maxParamLength: 1024 }, genReqId: requestIdOf }),
    // Start-up lines are held back until the pino logger (LoggingModule) takes them.
    { bufferLogs: true },
  );
  app.useLogger(app.get(Logger));
  const config = app.get<ConfigService<Environment, true>>(ConfigService);
  const fastify = app.getHttpAdapter().getInstance();
  app.useBodyParser('application/json', { bodyLimit: config.get('HTTP_MAX_BODY_BYTES', { infer: true }) }, emptyOrJson(fastify));
  const pendingConnections = limitConnections(app.getHttpServer(), config, app.get(MetricsService));
  closeConnectionsWhenDone(fastify, app.get(ServerStateService));
  // Registered before Nest adds the routes, so they cover every route: the request line
  // first (refusals by the key check are logged too), then the key.
  logRequests(fastify);
  requireApiKey(fastify, app.get(ApiKeyService));
  refuseNonJsonBodies(fastify);
  checkRouteInputs(fastify);
  app.useGlobalFilters(new HttpErrorFilter());
  app.useWebSocketAdapter(
    new GatewayWsAdapter(app, {
      maxMessageBytes: config.get('WEBSOCKET_MAX_MESSAGE_BYTES', { infer: true }),
      perMessageDeflate: config.get('WEBSOCKET_PERMESSAGE_DEFLATE', { infer: true }),
      onUpgrade: (socket) => pendingConnections.release(socket),
    }),
  );
  if (docsEnabled({ DOCS_ENABLED: config.get('DOCS_ENABLED', { infer: true }), NODE_ENV: config.get('NODE_ENV', { infer: true }) })) serveApiDocs(app);
  return app;
}

/** Creates the app and listens on WEBSOCKET_HOST:WEBSOCKET_PORT (port 0: any free port). */
export async function startApp(options: CreateAppOptions = {}): Promise<RunningApp> {
  const app = await createApp(options);
  const config = app.get<ConfigService<Environment, true>>(ConfigService);
  const host = config.get('WEBSOCKET_HOST', { infer: true });
  await app.listen(config.get('WEBSOCKET_PORT', { infer: true }), host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.get('WEBSOCKET_PORT', { infer: true });
  app.get(ServerStateService).markListening(host, port);
  return { app, host, port };
}

/**
 * Deadlines for receiving a request (Node answers 408 and closes past them) and the cap on
 * connections holding no complete request. Node's server.requestTimeout times the
 * receiving only, so answers that take long (long-polls, a waiting POST /notify) are not
 * cut. Node checks the deadlines every connectionsCheckingInterval (30 s by default);
 * checking every second keeps them close to what is configured.
 */
function limitConnections(server: HttpServer, config: ConfigService<Environment, true>, metrics: MetricsService): PendingConnectionCap {
  const requestMs = config.get('HTTP_REQUEST_TIMEOUT_SECONDS', { infer: true }) * 1000;
  const headersMs = config.get('HTTP_HEADERS_TIMEOUT_SECONDS', { infer: true }) * 1000;
  server.requestTimeout = requestMs;
  server.headersTimeout = headersMs;
  // An option of http.createServer that Node reads when the server starts listening, so
  // setting it here, before listen, takes effect (its types know it as an option only).
  (server as HttpServer & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(MAX_DEADLINE_CHECK_MS, headersMs / 4);
  const cap = new PendingConnectionCap(config.get('HTTP_MAX_PENDING_CONNECTIONS', { infer: true }), () => metrics.countShedConnection());
  cap.attach(server);
  return cap;
}

const MAX_DEADLINE_CHECK_MS = 1000;

/**
 * Answers that end their connection, in one hook (it runs on every response):
 * - a request answered before its body arrived (refused by a hook with 401, 403, 413 or 415):
 *   otherwise Node would keep reading, and discarding, whatever the client still sends, for
 *   as long as it sends it, on a connection nobody authenticated;
 * - every answer while draining: a load balancer keeps idle connections to its upstreams
 *   (nginx's `keepalive`) and the HTTP server's close waits for every open one, so a
 *   connection that carried a request during the drain would stay open until
 *   SHUTDOWN_GRACE_SECONDS runs out, and the process would exit 1.
 */
function closeConnectionsWhenDone(fastify: FastifyInstance, state: ServerStateService): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (state.isShuttingDown || (announcesBody(request.headers) && !request.raw.complete)) void reply.header('connection', 'close');
    done(null, payload);
  });
}

function announcesBody(headers: FastifyRequest['headers']): boolean {
  return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
}

/**
 * The API speaks JSON only. Fastify (with Nest's defaults) would also parse form and text
 * bodies, with their own size limit; they are refused before any parsing instead. A
 * callback hook, not an async one: it runs on every request, and most pass straight on.
 */
function refuseNonJsonBodies(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const type = request.headers['content-type'] ?? '';
    if (!announcesBody(request.headers) || /^application\/json\s*(;|$)/i.test(type)) return done();
    refuseFromHook(reply, NOT_JSON);
  });
}

/**
 * Many HTTP clients send `Content-Type: application/json` on every request, bodiless ones
 * included. An empty body is then no body at all, as if the header were absent: routes that
 * take none (DELETE /heartbeats/:id) work, and routes that need one refuse it with 400 as
 * they refuse a missing body. Anything else goes to Fastify's JSON parser (which refuses
 * __proto__ and constructor keys).
 */
function emptyOrJson(fastify: FastifyInstance): FastifyBodyParser<Buffer> {
  const parseJson = fastify.getDefaultJsonParser('error', 'error') as unknown as FastifyBodyParser<Buffer>;
  return (request, body, done) => (body.length === 0 ? done(null, undefined) : parseJson(request, body, done));
}

const NOT_JSON = new GatewayError(ErrorCode.UnsupportedMediaType, 'Send request bodies as application/json');
