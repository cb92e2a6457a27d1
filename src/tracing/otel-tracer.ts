import { Attributes, context, Context, propagation, ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, trace, Tracer } from '@opentelemetry/api';
import type { Confirmation } from '../confirmations/confirmation.js';
import type { Destination, GatewayTracer, TraceCarrier } from './tracing.js';

/** Attribute names of our own, beside the OpenTelemetry semantic conventions' `messaging.*`. */
export const CALLBACK_ID = 'confirmation.callback_id';
export const STATE = 'confirmation.state';
/** Sockets of this instance a frame was written to. */
export const DELIVERED = 'confirmation_gateway.delivered_connections';

const carrierGetter = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
};

/**
 * The GatewayTracer on the OpenTelemetry API: spans of the `confirmation-gateway` tracer,
 * contexts through the globally configured propagator (W3C trace context by default).
 * Attributes never hold tokens, keys or a prompt's content: ids, states and counts.
 */
export class OtelGatewayTracer implements GatewayTracer {
  private readonly tracer: Tracer;

  constructor(version: string) {
    this.tracer = trace.getTracer('confirmation-gateway', version);
  }

  current(): TraceCarrier | undefined {
    return trace.getSpan(context.active()) ? toCarrier(context.active()) : undefined;
  }

  create<T extends { confirmation: Confirmation }>(create: (traceContext: TraceCarrier) => Promise<T>): Promise<T> {
    return this.inSpan('create confirmation', SpanKind.INTERNAL, {}, context.active(), async (span, ctx) => {
      const outcome = await create(toCarrier(ctx));
      span.setAttributes({ [CALLBACK_ID]: outcome.confirmation.callbackId, [STATE]: outcome.confirmation.state });
      return outcome;
    });
  }

  send<T>(destination: Destination, system: string, publish: () => Promise<T>): Promise<T> {
    const active = context.active();
    if (!trace.getSpan(active)) return publish();
    return this.inSpan(`send ${destination}`, SpanKind.PRODUCER, messaging(destination, system, 'send'), active, publish);
  }

  process(destination: Destination, system: string, parent: TraceCarrier | undefined, deliver: () => number): number {
    const ctx = parent === undefined ? context.active() : fromCarrier(parent);
    if (!trace.getSpan(ctx)) return deliver();
    return this.inSpan(`process ${destination}`, SpanKind.CONSUMER, messaging(destination, system, 'process'), ctx, (span) => {
      const delivered = deliver();
      span.setAttribute(DELIVERED, delivered);
      return delivered;
    });
  }

  settled<T>(confirmation: Confirmation, announce: () => Promise<T>): Promise<T> {
    const parent = confirmation.traceContext === undefined ? context.active() : fromCarrier(confirmation.traceContext);
    const startTime = confirmation.settledAt ?? Date.now();
    const attributes = { [CALLBACK_ID]: confirmation.callbackId, [STATE]: confirmation.state };
    const answered = confirmation.state === 'confirmed' || confirmation.state === 'rejected';
    const cause = this.tracer.startSpan(
      answered ? 'answer confirmation' : confirmation.state === 'timed_out' ? 'timeout confirmation' : 'cancel confirmation',
      { kind: answered ? SpanKind.SERVER : SpanKind.INTERNAL, startTime, attributes: answered ? { ...attributes, 'network.protocol.name': 'websocket' } : attributes },
      parent,
    );
    const underCause = trace.setSpan(parent, cause);
    return this.inSpan('settle confirmation', SpanKind.INTERNAL, attributes, underCause, announce, startTime).finally(() => cause.end());
  }

  /** Runs `fn` with a new span active, ending it when `fn` returns or its promise settles. */
  private inSpan<T>(name: string, kind: SpanKind, attributes: Attributes, parent: Context, fn: (span: Span, ctx: Context) => T, startTime?: number): T {
    const span = this.tracer.startSpan(name, { kind, attributes, startTime }, parent);
    const ctx = trace.setSpan(parent, span);
    let result: T;
    try {
      result = context.with(ctx, fn, undefined, span, ctx);
    } catch (err) {
      fail(span, err);
      throw err;
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => {
          span.end();
          return value;
        },
        (err: unknown) => {
          fail(span, err);
          throw err;
        },
      ) as T;
    }
    span.end();
    return result;
  }
}

function fail(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}

/** `messaging.*` of the semantic conventions; the destination is the kind of stream, never a user's id. */
function messaging(destination: Destination, system: string, operation: 'send' | 'process'): Attributes {
  return {
    'messaging.system': system,
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
    'messaging.destination.name': destination,
  };
}

function toCarrier(ctx: Context): TraceCarrier {
  const headers: Record<string, string> = {};
  propagation.inject(ctx, headers);
  const traceparent = headers.traceparent ?? '';
  return headers.tracestate ? `${traceparent}\n${headers.tracestate}` : traceparent;
}

function fromCarrier(carrier: TraceCarrier): Context {
  const cut = carrier.indexOf('\n');
  const headers: Record<string, string> = cut < 0 ? { traceparent: carrier } : { traceparent: carrier.slice(0, cut), tracestate: carrier.slice(cut + 1) };
  return propagation.extract(ROOT_CONTEXT, headers, carrierGetter);
}
