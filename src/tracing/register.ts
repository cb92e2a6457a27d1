import { tracingConfigured } from './tracing.js';

/**
 * Imported first by main.ts: starts tracing before the service is built, and only when the
 * OTEL_* variables ask for it. Otherwise this is one check and nothing of OpenTelemetry loads.
 * The variables are read from the process's environment (not from a .env file).
 */
if (tracingConfigured(process.env)) await (await import('./start-tracing.js')).startTracing();
