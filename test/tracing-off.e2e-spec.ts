import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ServiceInstance, waitFor } from './support/processes.js';
import { RedisServer } from './support/redis-server.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');
const HOOK = resolve('test/support/loaded-modules.mjs');

/**
 * OpenTelemetry's SDK and instrumentations, and this service's code that uses them. Not the
 * API package (@opentelemetry/api): prom-client has always loaded it, for exemplars.
 */
const TRACING_MODULE = /@opentelemetry[\\/](?!api[\\/])|@fastify[\\/]otel|tracing[\\/](start-tracing|otel-tracer)\.js/;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/**
 * Issue 23, traces, as operators run the service (`node dist/main.js`, cluster mode): without
 * the OTEL_* variables no OpenTelemetry module is loaded and the pub/sub envelope and the
 * stored record have no trace field; with OTEL_EXPORTER_OTLP_ENDPOINT the spans of the
 * caller's trace reach an OTLP receiver. Every module the process loads is written down by
 * a preloaded hook (test/support/loaded-modules.mjs).
 */
(haveRedis ? describe : describe.skip)('tracing on and off in the built service', () => {
  let redis: RedisServer;
  let listener: Redis;
  let commands: Redis;
  const messages: string[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    listener = new Redis(redis.url);
    commands = new Redis(redis.url);
    listener.on('pmessage', (_pattern: string, _channel: string, message: string) => messages.push(message));
    await listener.psubscribe('*');
  }, 60_000);
  afterAll(async () => {
    await listener?.quit();
    await commands?.quit();
    await redis?.close();
  });

  /** Starts the service with the module log, asks and answers one prompt; resolves once it exited. */
  async function askAndAnswer(env: Record<string, string>, traceparent: string) {
    const loadedFile = join(tmpdir(), `loaded-modules-${randomUUID()}.txt`);
    const instance = await ServiceInstance.start({ REDIS_URL: redis.url, NODE_OPTIONS: `--import ${HOOK}`, LOADED_MODULES_FILE: loadedFile, ...env });
    try {
      const user = `traced-${randomUUID()}`;
      const tab = await instance.connect(user);
      const waiting = instance.http('POST', '/notify', notifyBody(user, 'task-1'), { traceparent });
      const prompt = await tab.next('task_step_result');
      tab.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: true });
      expect((await waiting).body).toMatchObject({ callback_id: prompt.callback_id, state: 'confirmed' });
      const published = messages.find((m) => m.includes(prompt.callback_id) && m.includes('task_step_result'));
      const envelope = JSON.parse(published!.slice(0, published!.indexOf('\n'))) as Record<string, unknown>;
      const recordKey = (await commands.keys(`*${prompt.callback_id}*`)).find((key) => /:c:/.test(key) || key.endsWith(prompt.callback_id));
      const record = await commands.hgetall(recordKey!);
      await instance.stop('SIGTERM');
      const loaded = readFileSync(loadedFile, 'utf8').split('\n').filter(Boolean);
      return { envelope, record, loaded, callbackId: prompt.callback_id as string };
    } finally {
      await instance.stop();
      rmSync(loadedFile, { force: true });
    }
  }

  it('off (no OTEL_* variables): no OpenTelemetry module loads, and no trace context travels or is kept', async () => {
    const { envelope, record, loaded, callbackId } = await askAndAnswer({}, `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`);
    // The hook saw the service's modules: an empty list would prove nothing.
    expect(loaded.some((line) => line.includes('dist/main.js'))).toBe(true);
    expect(loaded.some((line) => line.includes('node_modules/ioredis/'))).toBe(true);
    expect(loaded.filter((line) => TRACING_MODULE.test(line))).toEqual([]);
    expect(envelope).not.toHaveProperty('tp');
    expect(record.id).toBe(callbackId);
    expect(record).not.toHaveProperty('tc');
  }, 120_000);

  it('off when OTEL_SDK_DISABLED=true, whatever else is set', async () => {
    const { envelope, loaded } = await askAndAnswer(
      { OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' },
      `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
    );
    expect(loaded.filter((line) => TRACING_MODULE.test(line))).toEqual([]);
    expect(envelope).not.toHaveProperty('tp');
  }, 120_000);

  describe('on (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
    let receiver: Server;
    let endpoint: string;
    const received: OtlpSpan[] = [];

    beforeAll(async () => {
      receiver = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk));
        request.on('end', () => {
          if (request.url === '/v1/traces') {
            const { resourceSpans } = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
            for (const { scopeSpans } of resourceSpans) for (const { spans } of scopeSpans) received.push(...spans);
          }
          response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((listening) => receiver.listen(0, '127.0.0.1', listening));
      endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((closed) => receiver.close(() => closed())));

    it('exports the caller\'s trace over OTLP: the HTTP span under the given parent, the prompt\'s spans, the answer\'s', async () => {
      const traceId = randomBytes(16).toString('hex');
      const parentId = randomBytes(8).toString('hex');
      const { envelope, record, loaded } = await askAndAnswer(
        { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50' },
        `00-${traceId}-${parentId}-01`,
      );
      expect(loaded.some((line) => TRACING_MODULE.test(line))).toBe(true);
      expect(envelope.tp).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      expect(record.tc).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      // The last spans are exported by the drain (SIGTERM) at the latest.
      await waitFor(() => received.some((s) => s.name === 'settle confirmation' && s.traceId === traceId), 5000, 'the settle span');
      const trace = received.filter((s) => s.traceId === traceId);
      const http = trace.find((s) => s.name === 'POST /notify');
      expect(http?.parentSpanId).toBe(parentId);
      for (const name of ['create confirmation', 'send user', 'process user', 'answer confirmation', 'settle confirmation']) {
        expect(trace.map((s) => s.name)).toContain(name);
      }
    }, 120_000);
  });
});
