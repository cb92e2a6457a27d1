import { FastifyOtelInstrumentation } from '@fastify/otel';
import { context, propagation, trace } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { NodeSDK, tracing as sdkTracing } from '@opentelemetry/sdk-node';
import { createRequire } from 'node:module';
import { OtelGatewayTracer } from './otel-tracer.js';
import { tracing } from './tracing.js';

export interface TracingOptions {
  /** Instead of the exporters OTEL_TRACES_EXPORTER names (tests: an in-memory exporter). */
  spanProcessors?: sdkTracing.SpanProcessor[];
}

/** Query parameters never recorded on a server span (`url.query`): the inbox and WebSocket token. */
const REDACTED_QUERY_PARAMS = ['token', 'access_token', 'api_key', 'apikey', 'key', 'sig', 'signature'];

/** The instrumented modules as the service imports them. */
const IMPORTED: Record<string, () => Promise<unknown>> = {
  http: async () => (await import('node:http')).default,
  ioredis: async () => (await import('ioredis')).default,
};

/** Probes and scrapes: frequent, and nothing to follow. */
const UNTRACED_PATHS = /^\/(health(\/.*)?|metrics)(\?|$)/;

/**
 * Starts OpenTelemetry's Node SDK, configured by the standard OTEL_* variables (exporter,
 * endpoint, sampler, propagators, resource), with the HTTP, Fastify and ioredis
 * instrumentations, and turns the service's own spans on (tracing.tracer). Only loaded when
 * tracing is configured (./register.ts): off, no OpenTelemetry module is.
 */
export async function startTracing(options: TracingOptions = {}): Promise<void> {
  if (tracing.tracer) return;
  const require = createRequire(import.meta.url);
  const { version } = require('../../package.json') as { version: string };
  const instrumentations = [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? ''),
      redactedQueryParamsServer: REDACTED_QUERY_PARAMS,
    }),
    // A request span and the route's handler span; one span per hook would outnumber them.
    new FastifyOtelInstrumentation({ registerOnInitialization: true, instrumentHooks: false }),
    // Commands only inside a span (a request's, a delivery's): not every timer's.
    new IORedisInstrumentation({ requireParentSpan: true }),
  ];
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ? undefined : 'confirmation-gateway',
    spanProcessors: options.spanProcessors,
    instrumentations,
  });
  sdk.start();
  // The instrumentations patch modules as they are required. Whatever was imported as an ES
  // module, or before the SDK started, is patched now: http's Server and ioredis's client
  // are prototypes every importer shares.
  require('node:http');
  require('ioredis');
  // Where require() is not Node's own (Jest's module registry), no hook saw them: patch the
  // modules as this service imports them.
  for (const instrumentation of instrumentations) {
    for (const definition of instrumentation.getModuleDefinitions()) {
      const load = IMPORTED[definition.name];
      if (definition.moduleExports !== undefined || !load || !definition.patch) continue;
      definition.moduleExports = await load();
      definition.patch(definition.moduleExports, definition.moduleVersion);
    }
  }
  tracing.tracer = new OtelGatewayTracer(version);
  tracing.stop = async () => {
    tracing.tracer = null;
    tracing.stop = null;
    try {
      await sdk.shutdown();
    } finally {
      // The SDK's shutdown flushes and ends the providers but leaves the modules patched and
      // the globals registered: undone, so nothing traces afterwards (and tracing can start again).
      for (const instrumentation of instrumentations) instrumentation.disable();
      trace.disable();
      context.disable();
      propagation.disable();
    }
  };
}
