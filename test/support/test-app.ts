import 'reflect-metadata';
import type { LogLevel } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { startApp } from '../../src/app.factory.js';
import { DocumentedTraffic } from './documented-traffic.js';
import { TestClient } from './test-client.js';

export interface TestApp {
  app: NestFastifyApplication;
  baseUrl: string;
  wsUrl: string;
  /** Opens a socket, optionally as a user, and waits for its `connected` frame. */
  connect(userId?: string, path?: string): Promise<TestClient>;
  http(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  close(): Promise<void>;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: any;
}

/**
 * In-process apps log nothing: the errors tests provoke on purpose (Redis away, 503s) would
 * read as failures in a passing run. `TEST_APP_LOG_LEVELS=error,warn` shows them when debugging.
 */
export const TEST_APP_LOG_LEVELS: LogLevel[] | false = process.env.TEST_APP_LOG_LEVELS
  ? (process.env.TEST_APP_LOG_LEVELS.split(',') as LogLevel[])
  : false;

/** Starts the real app on an ephemeral loopback port with the given settings. */
export async function startTestApp(env: Record<string, unknown> = {}): Promise<TestApp> {
  const { app, port } = await startApp({
    // /docs serves the UI's files through @fastify/static, which needs require() of an ES
    // module: Node does that, Jest's module loader does not. test/api-docs.e2e-spec.ts checks
    // /docs on the built service in a process of its own.
    env: { WEBSOCKET_HOST: '127.0.0.1', WEBSOCKET_PORT: 0, DOCS_ENABLED: false, ...env },
    logLevels: TEST_APP_LOG_LEVELS,
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const wsUrl = `ws://127.0.0.1:${port}`;
  const clients: TestClient[] = [];
  const documented = await DocumentedTraffic.of(app);
  return {
    app,
    baseUrl,
    wsUrl,
    async connect(userId?: string, path = '/') {
      const query = userId === undefined ? '' : `?user_id=${encodeURIComponent(userId)}`;
      const client = await TestClient.open(`${wsUrl}${path}${query}`);
      clients.push(client);
      await client.next('connected');
      return client;
    },
    async http(method, path, body, headers) {
      const result = await request(baseUrl, method, path, body, headers);
      documented.check(method, baseUrl + path, body, result.status, result.body, result.headers.get('content-type'));
      return result;
    },
    async close() {
      for (const client of clients) client.terminate();
      await app.close();
    },
  };
}

export async function request(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(baseUrl + path, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** A step result as task services send it. */
export function notifyBody(userId: string, taskId: string, extra: Record<string, unknown> = {}) {
  return {
    user_id: userId,
    task_id: taskId,
    step: 3,
    step_result: {
      step: 'data_validation',
      result: { validated_rows: 1000, errors: 5 },
      completed: true,
      message: 'Validation finished with 5 errors. Continue?',
      status: 'completed',
    },
    ...extra,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
