import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startTracing } from '../src/tracing/start-tracing.js';
import { tracing } from '../src/tracing/tracing.js';
import { RedisServer } from './support/redis-server.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody, startTestApp, TestApp } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');
const API_KEY = `key-${randomUUID()}`;
const SERVER = 1;
const PRODUCER = 3;
const CONSUMER = 4;

/**
 * Issue 23, traces: with tracing on (an in-memory exporter instead of OTLP), the traceparent
 * a task service sends with POST /notify continues through the prompt's delivery, on the
 * instance that holds the user's socket, to the answer and the settle, on whichever
 * instance the user answers: one trace. Real app, real `ws` clients, real Redis.
 */
describe('tracing (OpenTelemetry, in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  let single: TestApp;

  beforeAll(async () => {
    await startTracing({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    single = await startTestApp({ API_KEYS: API_KEY });
  }, 60_000);
  afterAll(async () => {
    await single?.close();
    await tracing.stop?.();
  });

  it('one instance: the HTTP span continues the caller\'s traceparent, then create, send, process, answer and settle', async () => {
    const { traceparent, traceId, parentId } = newTraceparent();
    const user = `trace-${randomUUID()}`;
    const tab = await single.connect(user);
    const waiting = single.http('POST', '/notify', notifyBody(user, 'task-traced'), { traceparent, authorization: `Bearer ${API_KEY}` });
    const prompt = await tab.next('task_step_result');
    tab.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true });
    expect((await waiting).body).toMatchObject({ callback_id: prompt.callback_id, state: 'confirmed' });

    const spans = await spansOf(exporter, traceId, ['POST /notify', 'create confirmation', 'send user', 'process user', 'answer confirmation', 'settle confirmation']);
    const http = one(spans, 'POST /notify');
    expect(http.kind).toBe(SERVER);
    expect(http.parentSpanContext?.spanId).toBe(parentId);
    expect(http.attributes['http.route']).toBe('/notify');
    const create = one(spans, 'create confirmation');
    expect(ancestors(spans, create)).toContain(http);
    expect(create.attributes).toMatchObject({ 'confirmation.callback_id': prompt.callback_id, 'confirmation.state': 'pending' });
    const send = childOf(spans, create, 'send user');
    expect(send.kind).toBe(PRODUCER);
    expect(send.attributes).toMatchObject({ 'messaging.system': 'memory', 'messaging.operation.type': 'send', 'messaging.destination.name': 'user' });
    const process = childOf(spans, send, 'process user');
    expect(process.kind).toBe(CONSUMER);
    expect(process.attributes['confirmation_gateway.delivered_connections']).toBe(1);
    // The answer continues the context kept with the confirmation: the create span's.
    const answer = childOf(spans, create, 'answer confirmation');
    expect(answer.attributes).toMatchObject({ 'confirmation.callback_id': prompt.callback_id, 'confirmation.state': 'confirmed' });
    const settle = childOf(spans, answer, 'settle confirmation');
    expect(settle.attributes).toMatchObject({ 'confirmation.callback_id': prompt.callback_id, 'confirmation.state': 'confirmed' });
    // The resolution frame for the user's other tabs is sent inside the settle.
    expect(spans.filter((s) => s.name === 'send user' && s.parentSpanContext?.spanId === settle.spanContext().spanId)).toHaveLength(1);
    // The HTTP span ends with the caller's answer, after the settle began.
    expect(hrMs(http.endTime)).toBeGreaterThanOrEqual(hrMs(settle.startTime));
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(API_KEY);
  });

  it('a request without traceparent starts its own trace, and the answer still joins it', async () => {
    const user = `trace-${randomUUID()}`;
    const tab = await single.connect(user);
    const waiting = single.http('POST', '/notify', notifyBody(user, 'task-untraced'), { authorization: `Bearer ${API_KEY}` });
    const prompt = await tab.next('task_step_result');
    tab.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: false });
    expect((await waiting).body).toMatchObject({ state: 'rejected' });
    const create = await spanWhere(exporter, (s) => s.name === 'create confirmation' && s.attributes['confirmation.callback_id'] === prompt.callback_id);
    const traceId = create.spanContext().traceId;
    const spans = await spansOf(exporter, traceId, ['POST /notify', 'answer confirmation', 'settle confirmation']);
    expect(one(spans, 'POST /notify').parentSpanContext).toBeUndefined();
    expect(one(spans, 'answer confirmation').parentSpanContext?.spanId).toBe(create.spanContext().spanId);
  });

  it('a confirmation that times out is settled in its trace too', async () => {
    const { traceparent, traceId } = newTraceparent();
    const user = `trace-${randomUUID()}`;
    await single.connect(user);
    const decision = await single.http('POST', '/notify', notifyBody(user, 'task-timeout', { timeout_seconds: 0.2 }), { traceparent, authorization: `Bearer ${API_KEY}` });
    expect(decision.body).toMatchObject({ state: 'timed_out' });
    const spans = await spansOf(exporter, traceId, ['create confirmation', 'timeout confirmation', 'settle confirmation']);
    const timeout = childOf(spans, one(spans, 'create confirmation'), 'timeout confirmation');
    childOf(spans, timeout, 'settle confirmation');
  });

  (haveRedis ? describe : describe.skip)('two instances on one Redis', () => {
    let redis: RedisServer;
    let asked: TestApp;
    let answering: TestApp;

    beforeAll(async () => {
      redis = await RedisServer.start();
      // Started one after the other: both register their instance with the same Redis.
      asked = await startTestApp({ REDIS_URL: redis.url, API_KEYS: API_KEY });
      answering = await startTestApp({ REDIS_URL: redis.url, API_KEYS: API_KEY });
    }, 60_000);
    afterAll(async () => {
      await asked?.close();
      await answering?.close();
      await redis?.close();
    });

    it('the prompt asked on one instance and answered on the other is one trace: the envelope and the record carry it', async () => {
      const { traceparent, traceId, parentId } = newTraceparent('vendor=opaque');
      const user = `trace-${randomUUID()}`;
      const tab = await answering.connect(user);
      const listener = new Redis(redis.url);
      const messages: string[] = [];
      await listener.psubscribe('*');
      listener.on('pmessage', (_pattern: string, _channel: string, message: string) => messages.push(message));
      try {
        const waiting = asked.http('POST', '/notify', notifyBody(user, 'task-across'), { traceparent, tracestate: 'vendor=opaque', authorization: `Bearer ${API_KEY}` });
        const prompt = await tab.next('task_step_result');
        tab.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true, feedback: 'from the other instance' });
        expect((await waiting).body).toMatchObject({ callback_id: prompt.callback_id, state: 'confirmed', feedback: 'from the other instance' });

        const spans = await spansOf(exporter, traceId, ['POST /notify', 'create confirmation', 'send user', 'process user', 'answer confirmation', 'settle confirmation', 'process resolution']);
        const http = one(spans, 'POST /notify');
        expect(http.parentSpanContext?.spanId).toBe(parentId);
        const create = one(spans, 'create confirmation');
        expect(ancestors(spans, create)).toContain(http);
        const send = childOf(spans, create, 'send user');
        expect(send.attributes['messaging.system']).toBe('redis');
        // The answering instance's delivery continues the context from the envelope.
        const process = childOf(spans, send, 'process user');
        expect(process.attributes).toMatchObject({ 'messaging.system': 'redis', 'confirmation_gateway.delivered_connections': 1 });
        const answer = childOf(spans, create, 'answer confirmation');
        const settle = childOf(spans, answer, 'settle confirmation');
        // The waiting instance hears the decision in the settle's trace, then answers its caller.
        const resolution = childOf(spans, settle, 'process resolution');
        // Span times come from a high-resolution clock rounded per span: allow its millisecond.
        expect(hrMs(http.endTime)).toBeGreaterThanOrEqual(hrMs(resolution.startTime) - 1);
        // tracestate travels with the traceparent.
        expect(answer.spanContext().traceState?.get('vendor')).toBe('opaque');
        // Redis commands of the request are spans of the trace (ioredis instrumentation).
        expect(spans.some((s) => s.instrumentationScope.name.includes('ioredis'))).toBe(true);

        const prompted = messages.find((m) => m.includes(prompt.callback_id) && m.includes('task_step_result'));
        const envelope = JSON.parse(prompted!.slice(0, prompted!.indexOf('\n'))) as { tp?: string };
        expect(envelope.tp).toBe(`00-${traceId}-${send.spanContext().spanId}-01\nvendor=opaque`);
      } finally {
        await listener.quit();
      }
    });
  });
});

function newTraceparent(tracestate?: string): { traceparent: string; traceId: string; parentId: string; tracestate?: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceparent: `00-${traceId}-${parentId}-01`, traceId, parentId, tracestate };
}

/** The trace's spans once every named one has ended (the HTTP span ends after the response is sent). */
async function spansOf(exporter: InMemorySpanExporter, traceId: string, names: string[]): Promise<ReadableSpan[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const missing = names.filter((name) => !spans.some((s) => s.name === name));
    if (missing.length === 0) return spans;
    if (Date.now() > deadline) throw new Error(`spans missing from trace ${traceId}: ${missing.join(', ')}; have ${spans.map((s) => s.name).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function spanWhere(exporter: InMemorySpanExporter, matches: (span: ReadableSpan) => boolean): Promise<ReadableSpan> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const span = exporter.getFinishedSpans().find(matches);
    if (span) return span;
    if (Date.now() > deadline) throw new Error('no such span');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function one(spans: ReadableSpan[], name: string): ReadableSpan {
  const named = spans.filter((s) => s.name === name);
  expect(named.map((s) => s.name)).toEqual([name]);
  return named[0];
}

/** The one span of this name whose parent is `parent`. */
function childOf(spans: ReadableSpan[], parent: ReadableSpan, name: string): ReadableSpan {
  const children = spans.filter((s) => s.name === name && s.parentSpanContext?.spanId === parent.spanContext().spanId);
  expect(`${children.length} ${name} under ${parent.name}`).toBe(`1 ${name} under ${parent.name}`);
  return children[0];
}

function ancestors(spans: ReadableSpan[], span: ReadableSpan): ReadableSpan[] {
  const found: ReadableSpan[] = [];
  for (let at = span.parentSpanContext; at; ) {
    const parent = spans.find((s) => s.spanContext().spanId === at!.spanId);
    if (!parent) break;
    found.push(parent);
    at = parent.parentSpanContext;
  }
  return found;
}

function hrMs([seconds, nanos]: [number, number]): number {
  return seconds * 1000 + nanos / 1e6;
}
