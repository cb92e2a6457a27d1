import type { Confirmation } from '../confirmations/confirmation.js';

/**
 * A trace context as it travels beside a frame (the pub/sub envelope's `tp`) and as it is
 * kept with a confirmation (`traceContext`): the W3C `traceparent`, then `tracestate` after a
 * newline when there is one (neither header can hold a newline).
 */
export type TraceCarrier = string;

/** Where a frame goes, for a span's name and `messaging.destination.name`. */
export type Destination = 'user' | 'task' | 'group' | 'broadcast' | 'resolution';

/**
 * What the service asks of tracing. It exists only while tracing is on: the call sites test
 * `tracing.tracer` once and otherwise run exactly as they do without it. Implemented on
 * OpenTelemetry by ./otel-tracer.ts, which only ./start-tracing.ts loads.
 */
export interface GatewayTracer {
  /** The active span as a carrier; undefined when no span is active. */
  current(): TraceCarrier | undefined;
  /** Creating and publishing a prompt: `create` is handed the carrier to keep with the record. */
  create<T extends { confirmation: Confirmation }>(create: (traceContext: TraceCarrier) => Promise<T>): Promise<T>;
  /** Publishing a frame; a span only when one is active (it continues a trace, never starts one). */
  send<T>(destination: Destination, system: string, publish: () => Promise<T>): Promise<T>;
  /**
   * A frame that reached this instance, written to its sockets (`deliver` answers how many):
   * a child of `parent` (from the envelope), else of the active span; no span without either.
   */
  process(destination: Destination, system: string, parent: TraceCarrier | undefined, deliver: () => number): number;
  /**
   * A confirmation settled here (answered, timed out or cancelled): a span for the cause and
   * its `settle confirmation` child, in the trace kept with the record, around `announce`.
   */
  settled<T>(confirmation: Confirmation, announce: () => Promise<T>): Promise<T>;
}

/** Null unless tracing was started (./start-tracing.ts); `stop` flushes and ends it. */
export const tracing: { tracer: GatewayTracer | null; stop: (() => Promise<void>) | null } = { tracer: null, stop: null };

/**
 * Tracing is on when the standard variables ask for an exporter: OTEL_TRACES_EXPORTER set to
 * anything but `none`, or an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). OTEL_SDK_DISABLED=true turns it off whatever else says.
 */
export function tracingConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporters) return exporters.split(',').some((name) => name.trim() !== 'none' && name.trim() !== '');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}
