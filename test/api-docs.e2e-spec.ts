import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { chromium } from 'playwright-core';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { createApp } from '../src/app.factory.js';
import { DOCS_CSP } from '../src/docs/api-docs.js';
import { buildOpenApiDocument } from '../src/docs/openapi.js';
import { OPERATION_DOCS } from '../src/docs/operation-docs.js';
import { DTO_FIELDS, grantValid, heartbeatValid, notifyValid, OPTIONAL, REST_WRONG } from './support/hostile-corpus.js';
import { notifyBody, request, startTestApp, TEST_APP_LOG_LEVELS, TestApp } from './support/test-app.js';

/**
 * The OpenAPI document at /docs/json: public where it should be, complete (every route
 * the app serves), and true (what the tests send is what it allows, what the app answers
 * is what it describes). The UI is checked on the built service in its own process: its
 * files come through @fastify/static, which Jest's module loader cannot load.
 */

const MAIN = resolve('dist/main.js');

/** The production build on a free port, as users start it, until it listens. */
async function startBuiltService(env: Record<string, string>): Promise<{ child: ChildProcess; baseUrl: string }> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: npm test builds it first`);
  const child = spawn(process.execPath, [MAIN], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH, WEBSOCKET_HOST: '127.0.0.1', WEBSOCKET_PORT: '0', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
    if (match) return { child, baseUrl: `http://127.0.0.1:${match[1]}` };
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service did not start:\n${output}`);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
}

const KEY = 'docs-test-key';
/** Debian's chromium package, as in test/inbox-page.e2e-spec.ts. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WITH_KEY = { authorization: `Bearer ${KEY}` };

/** The routes that read or write the shared state (Redis in cluster mode), so may answer 503. */
const SHARED_STATE_ROUTES = [
  'POST /notify',
  'POST /broadcast',
  'POST /users/{user_id}/messages',
  'GET /confirmations/{callback_id}',
  'GET /confirmations/{callback_id}/deliveries',
  'GET /messages/{message_id}',
  'GET /tasks/{task_id}',
  'POST /tasks/{task_id}/messages',
  'POST /tasks/{task_id}/subscribers',
  'DELETE /tasks/{task_id}/subscribers/{user_id}',
  'POST /heartbeats',
  'DELETE /heartbeats/{id}',
  'GET /confirmations/{callback_id}/events',
  'GET /audit',
];

type Document = { openapi: string; paths: Record<string, Record<string, any>>; components: { schemas: Record<string, object>; securitySchemes: Record<string, any> } };

let app: NestFastifyApplication;
let served: string[];
let appUrl: string;
let document: Document;
const ajv = new Ajv2020({ strict: false, allErrors: true });

/** `/tasks/{task_id}` for Fastify's `/tasks/:task_id`. */
const asOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function operation(method: string, path: string) {
  const op = document.paths[path]?.[method.toLowerCase()];
  if (!op) throw new Error(`${method} ${path} is not in the document`);
  return op;
}

/** A validator for a schema of the document, its component references resolved. */
function validatorFor(schema: object) {
  return ajv.compile({ ...schema, components: document.components });
}

function requestSchema(method: string, path: string) {
  return validatorFor(operation(method, path).requestBody.content['application/json'].schema);
}

/** The error codes the operation documents for the status, if any. */
function errorCodes(op: any, status: number): string[] | undefined {
  return op.responses[String(status)]?.content?.['application/json']?.schema?.properties?.code?.enum;
}

function expectDocumented(method: string, path: string, reply: { status: number; body: unknown }) {
  const response = operation(method, path).responses[String(reply.status)];
  expect(response).toBeDefined();
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return;
  const validate = validatorFor(schema);
  if (!validate(reply.body)) throw new Error(`${method} ${path} ${reply.status} ${JSON.stringify(reply.body)}: ${ajv.errorsText(validate.errors)}`);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

describe('API documents (e2e)', () => {
  beforeAll(async () => {
    app = await createApp({ env: { WEBSOCKET_HOST: '127.0.0.1', WEBSOCKET_PORT: 0, API_KEYS: KEY, DOCS_ENABLED: false }, logLevels: TEST_APP_LOG_LEVELS });
    // Every route added from here on, which is every route Nest serves.
    served = [];
    app.getHttpAdapter().getInstance().addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) if (method !== 'HEAD') served.push(`${method} ${asOpenApiPath(route.url)}`);
    });
    await app.listen(0, '127.0.0.1');
    appUrl = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    document = JSON.parse(JSON.stringify(buildOpenApiDocument(app)));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('is an OpenAPI 3.1 document with the API-key scheme', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.components.securitySchemes['api-key']).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('is served with its UI by the built service, without an API key', async () => {
    const { child, baseUrl } = await startBuiltService({ API_KEYS: KEY });
    try {
      const served = await request(baseUrl, 'GET', '/docs/json');
      expect(served.status).toBe(200);
      // The same routes and request schemas. (Terminus adds its health responses only where
      // it can load @nestjs/swagger itself, which it cannot inside Jest.)
      expect(Object.keys(served.body.paths).sort()).toEqual(Object.keys(document.paths).sort());
      expect(served.body.components.schemas).toEqual(document.components.schemas);
      const ui = await fetch(`${baseUrl}/docs`);
      expect(ui.status).toBe(200);
      const page = await ui.text();
      expect(page).toContain('swagger-ui');
      // No inline script or style: the CSP refuses both.
      expect(page).not.toMatch(/<script>|<style|style="|https?:\/\//);
      for (const [path, type] of [['/docs', /^text\/html/], ['/docs/swagger-ui-init.js', /^text\/javascript/], ['/docs/swagger-ui-bundle.js', /^text\/javascript/], ['/docs/swagger-ui.css', /^text\/css/], ['/docs/json', /^application\/json/]] as const) {
        const served = await fetch(`${baseUrl}${path}`);
        expect({ path, status: served.status }).toEqual({ path, status: 200 });
        expect(served.headers.get('content-type')).toMatch(type);
        expect(served.headers.get('content-security-policy')).toBe(DOCS_CSP);
        expect(served.headers.get('x-content-type-options')).toBe('nosniff');
        expect(served.headers.get('x-frame-options')).toBe('DENY');
        await served.arrayBuffer();
      }
      expect(DOCS_CSP).not.toMatch(/unsafe|https?:|\*/);
      // Only the files the page needs: nothing else of swagger-ui-dist.
      for (const path of ['/docs/package.json', '/docs/index.html', '/docs/swagger-ui-bundle.js.map', '/docs/swagger-ui.js', '/docs/oauth2-redirect.html', '/docs/absolute-path.js', '/docs/..%2F..%2Fpackage.json']) {
        const unserved = await fetch(`${baseUrl}${path}`);
        expect({ path, status: unserved.status }).toEqual({ path, status: 404 });
        expect(unserved.headers.get('x-content-type-options')).toBe('nosniff');
        await unserved.arrayBuffer();
      }
      expect((await fetch(`${baseUrl}/status`)).status).toBe(401);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);

  it('renders in Chromium under its CSP, with no violation, script error or request elsewhere', async () => {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI === 'true') throw new Error(`CI=true and ${CHROMIUM} is missing: install the Debian package "chromium" (.ci/run does)`);
      console.warn(`*** SKIPPING the /docs browser check: ${CHROMIUM} is missing ***`);
      return;
    }
    const { child, baseUrl } = await startBuiltService({ API_KEYS: KEY });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' || /Content.Security.Policy/i.test(message.text())) problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('response', (response) => {
        if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
      });
      page.on('request', (request) => {
        if (!request.url().startsWith(baseUrl) && !request.url().startsWith('data:')) problems.push(`foreign request: ${request.url()}`);
      });
      await page.goto(`${baseUrl}/docs`);
      await page.waitForSelector('.swagger-ui .opblock-summary-path');
      const paths = await page.locator('.opblock-summary-path').allTextContents();
      expect(paths.map((path) => path.replace(/\u200b/g, ''))).toContain('/notify');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
      child.kill('SIGKILL');
    }
  }, 90_000);

  it('documents every route the app serves, and nothing else', () => {
    const documented = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    expect(served.length).toBeGreaterThan(10);
    expect([...new Set(served)].sort()).toEqual(documented.sort());
  });

  it('documents every route with its key requirement and its error codes', async () => {
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(item)) {
        // A route is public exactly when the app answers it without a key.
        const withoutKey = await request(appUrl, method.toUpperCase(), path.replace(/\{[^}]+\}/g, 'x'));
        const isPublic = withoutKey.status !== 401;
        expect([method, path, op.security]).toEqual([method, path, isPublic ? [] : [{ 'api-key': [] }]]);
        if (!isPublic) expect(op.responses['401'].content['application/json'].schema.properties.code.enum).toEqual(['unauthorized']);
        if (op.requestBody) expect(op.responses['400'].content['application/json'].schema.properties.code.enum).toContain('invalid_message');
        expect([method, path, Object.keys(op.responses).some((s) => s.startsWith('2'))]).toEqual([method, path, true]);
      }
    }
    expect(operation('POST', '/notify').responses['429'].content['application/json'].schema.properties.code.enum).toEqual(['too_many_pending']);
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const route = `${method.toUpperCase()} ${path}`;
        expect([route, errorCodes(op, 500)]).toEqual([route, ['internal_error']]);
        expect([route, errorCodes(op, 503)?.includes('unavailable') ?? false]).toEqual([route, SHARED_STATE_ROUTES.includes(route)]);
      }
    }
    expect(operation('GET', '/confirmations/{callback_id}').responses['404'].content['application/json'].schema.properties.code.enum).toEqual(['callback_not_found']);
  });

  it('describes request bodies that take what the tests send and refuse what the storm sends', () => {
    const bodies: Array<[string, string, unknown]> = [
      ['POST', '/notify', notifyBody('alice', 'task-1')],
      ['POST', '/notify', notifyValid],
      ['POST', '/notify', notifyBody('alice', 'task-1', { callback_id: 'job-42.step-3', timeout_seconds: 30 })],
      ['POST', '/notify', { user_id: 'user_123', task_id: 'task_789', step: 2, step_result: { step: 'model_training', result: null, completed: false, message: '模型训练失败，是否重试？', status: 'failed', error_code: 'E003', error_message: 'GPU 内存不足' } }],
      ['POST', '/tasks/{task_id}/subscribers', grantValid],
      ['POST', '/tasks/{task_id}/subscribers', { user_id: 'bob' }],
      ['POST', '/heartbeats', heartbeatValid],
      ['POST', '/heartbeats', { user_id: 'alice', task_id: 't1', interval_seconds: 5 }],
      ['POST', '/broadcast', { type: 'system_notification', message: '系统将在5分钟后进行维护', severity: 'warning' }],
      ['POST', '/users/{user_id}/messages', { type: 'personal_notification', message: '您的任务已完成' }],
      ['POST', '/tasks/{task_id}/messages', { type: 'task_progress', progress: 75 }],
    ];
    for (const [method, path, body] of bodies) {
      const validate = requestSchema(method, path);
      expect([path, validate(body), ajv.errorsText(validate.errors)]).toEqual([path, true, 'No errors']);
    }
    const routeOf = (path: string) => (path.startsWith('/notify') ? '/notify' : path === '/heartbeats' ? '/heartbeats' : '/tasks/{task_id}/subscribers');
    for (const [path, valid, field, kind, extra = []] of DTO_FIELDS) {
      const validate = requestSchema('POST', routeOf(path));
      for (const value of [...REST_WRONG[kind], ...extra]) {
        if (value === null && OPTIONAL.has(field)) continue;
        const body = structuredClone(valid) as Record<string, any>;
        const keys = field.split('.');
        const leaf = keys.pop() as string;
        keys.reduce((target, key) => target[key], body)[leaf] = value;
        expect([field, value, validate(body)]).toEqual([field, value, false]);
      }
    }
  });

  it('describes what the app answers, errors included', async () => {
    const t = await startTestApp({ API_KEYS: KEY });
    try {
      const call = async (method: string, path: string, documentedPath: string, body?: unknown, headers: Record<string, string> = WITH_KEY) => {
        const reply = await t.http(method, path, body, headers);
        expectDocumented(method, documentedPath, reply);
        return reply;
      };
      const alice = await t.connect('alice');
      const asked = await call('POST', '/notify?wait=false', '/notify', notifyBody('alice', 'task-1', { callback_id: 'docs-1' }));
      expect(asked.status).toBe(202);
      // `status` is only an alias of `state`.
      expect(asked.body.status).toBe(asked.body.state);
      expect(operation('POST', '/notify').responses['202'].content['application/json'].schema.properties.status.deprecated).toBe(true);
      await alice.next('task_step_result');
      await call('GET', '/confirmations/docs-1', '/confirmations/{callback_id}');
      await call('GET', '/tasks/task-1', '/tasks/{task_id}');
      const waiting = call('POST', '/notify', '/notify', notifyBody('alice', 'task-2'));
      const prompt = await alice.next('task_step_result');
      alice.socket.send(JSON.stringify({ action: 'confirm', callback_id: prompt.callback_id, proceed: true, feedback: '同意继续' }));
      expect((await waiting).status).toBe(200);
      await call('GET', `/confirmations/${prompt.callback_id}`, '/confirmations/{callback_id}');
      expect((await call('POST', '/tasks/task-1/subscribers', '/tasks/{task_id}/subscribers', { user_id: 'bob' })).status).toBe(201);
      expect((await call('DELETE', '/tasks/task-1/subscribers/bob', '/tasks/{task_id}/subscribers/{user_id}')).status).toBe(204);
      expect((await call('DELETE', '/tasks/task-1/subscribers/bob', '/tasks/{task_id}/subscribers/{user_id}')).status).toBe(404);
      const beat = await call('POST', '/heartbeats', '/heartbeats', { user_id: 'alice', task_id: 'task-1', interval_seconds: 5 });
      expect((await call('DELETE', `/heartbeats/${beat.body.heartbeat_id}`, '/heartbeats/{id}')).status).toBe(204);
      await call('POST', '/broadcast', '/broadcast', { type: 'system_notification', message: 'hi' });
      await call('POST', '/users/alice/messages', '/users/{user_id}/messages', { type: 'personal_notification', message: 'hi' });
      await call('POST', '/tasks/task-1/messages', '/tasks/{task_id}/messages', { type: 'task_progress', progress: 1 });
      // Validated against its schema, which it has to have.
      expect(operation('GET', '/messages/{message_id}').responses['200'].content['application/json'].schema).toBeDefined();
      const sent = await call('POST', '/users/alice/messages', '/users/{user_id}/messages', { type: 'personal_notification', message: 'sign', requires_ack: true });
      expect((await call('GET', `/messages/${sent.body.message_id}`, '/messages/{message_id}')).body.state).toBe('pending');
      await alice.request({ action: 'ack', message_id: sent.body.message_id }, 'ack_accepted');
      expect((await call('GET', `/messages/${sent.body.message_id}`, '/messages/{message_id}')).body).toMatchObject({ state: 'acknowledged', acked_by: 'alice' });
      const trail = await call('GET', `/confirmations/${prompt.callback_id}/events`, '/confirmations/{callback_id}/events');
      expect(trail.body.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'delivered', 'answered', 'settled']);
      expect((await call('GET', '/audit?task_id=task-2&limit=2', '/audit')).body.events).toHaveLength(2);
      expect((await call('GET', '/audit?limit=501', '/audit')).status).toBe(400);
      await call('GET', '/status', '/status');
      const listed = await call('GET', '/connections?user_id=alice', '/connections');
      expect(listed.body.count).toBe(1);
      expect((await call('GET', '/connections?limit=0', '/connections')).status).toBe(400);
      await call('GET', '/health', '/health', undefined, {});
      expect((await call('POST', '/notify', '/notify', { user_id: 5 })).status).toBe(400);
      expect((await call('GET', '/confirmations/nope', '/confirmations/{callback_id}')).status).toBe(404);
      expect((await call('GET', '/tasks/nope', '/tasks/{task_id}')).status).toBe(404);
      expect((await call('GET', '/messages/nope', '/messages/{message_id}')).status).toBe(404);
      expect((await call('GET', '/inbox/assets/nope', '/inbox/assets/{file}', undefined, {})).status).toBe(404);
      expect((await call('GET', '/status', '/status', undefined, {})).status).toBe(401);
      expect((await call('GET', '/confirmations/x?wait_seconds=abc', '/confirmations/{callback_id}')).status).toBe(400);
    } finally {
      await t.close();
    }
  });

  it('gives every operation a summary', () => {
    const missing: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (typeof op.summary !== 'string' || op.summary.trim().length < 10) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(missing).toEqual([]);
    // And no summary is written for an operation that does not exist.
    const operations = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    expect(Object.keys(OPERATION_DOCS).sort()).toEqual(operations.sort());
  });

  it('gives every request body realistic examples, which its schema and the app accept, and checks every response example', async () => {
    const t = await startTestApp({ API_KEYS: KEY });
    try {
      let sent = 0;
      for (const [path, item] of Object.entries(document.paths)) {
        for (const [method, op] of Object.entries(item)) {
          const where = `${method.toUpperCase()} ${path}`;
          for (const [status, response] of Object.entries<any>(op.responses)) {
            const media = response.content?.['application/json'];
            if (media?.example === undefined) continue;
            const validate = validatorFor(media.schema);
            expect([where, status, validate(media.example), ajv.errorsText(validate.errors)]).toEqual([where, status, true, 'No errors']);
          }
          const body = op.requestBody?.content?.['application/json'];
          if (!body) continue;
          const examples = Object.entries<any>(body.examples ?? {});
          expect([where, examples.length > 0]).toEqual([where, true]);
          const validate = validatorFor(body.schema);
          // The path with its parameters' examples, as Swagger UI's "Try it out" fills it in.
          const url = path.replace(/\{([^}]+)\}/g, (_all, name) => encodeURIComponent(op.parameters.find((p: any) => p.name === name).example));
          for (const [name, { value }] of examples) {
            expect([where, name, validate(value), ajv.errorsText(validate.errors)]).toEqual([where, name, true, 'No errors']);
            // Realistic: a user is given minutes, not the schema's 50 ms minimum.
            if (value.timeout_seconds !== undefined) expect(value.timeout_seconds).toBeGreaterThanOrEqual(60);
            const reply = await t.http(method.toUpperCase(), url === '/notify' ? '/notify?wait=false' : url, value, WITH_KEY);
            expect([where, name, reply.status < 300]).toEqual([where, name, true]);
            sent++;
          }
        }
      }
      expect(sent).toBeGreaterThanOrEqual(8);
    } finally {
      await t.close();
    }
  });

  it('documents the 503 every shared-state route answers while Redis is away', async () => {
    const t = await startTestApp({ API_KEYS: KEY, REDIS_URL: `redis://127.0.0.1:${await closedPort()}/0` });
    try {
      const calls: Array<[string, string, string, unknown?]> = [
        ['POST', '/notify', '/notify', notifyBody('alice', 'task-1')],
        ['POST', '/broadcast', '/broadcast', { type: 'system_notification', message: 'hi' }],
        ['POST', '/users/alice/messages', '/users/{user_id}/messages', { type: 'personal_notification', message: 'hi' }],
        ['GET', '/confirmations/docs-1', '/confirmations/{callback_id}'],
        ['GET', '/confirmations/docs-1/deliveries', '/confirmations/{callback_id}/deliveries'],
        ['GET', '/messages/m-1', '/messages/{message_id}'],
        ['GET', '/tasks/task-1', '/tasks/{task_id}'],
        ['POST', '/tasks/task-1/messages', '/tasks/{task_id}/messages', { type: 'task_progress', progress: 1 }],
        ['POST', '/tasks/task-1/subscribers', '/tasks/{task_id}/subscribers', { user_id: 'bob' }],
        ['DELETE', '/tasks/task-1/subscribers/bob', '/tasks/{task_id}/subscribers/{user_id}'],
        ['POST', '/heartbeats', '/heartbeats', { user_id: 'alice', task_id: 'task-1', interval_seconds: 5 }],
        ['DELETE', '/heartbeats/h-1', '/heartbeats/{id}'],
        ['GET', '/confirmations/docs-1/events', '/confirmations/{callback_id}/events'],
        ['GET', '/audit', '/audit'],
      ];
      for (const [method, path, documentedPath, body] of calls) {
        const reply = await t.http(method, path, body, WITH_KEY);
        expect([method, path, reply.status, reply.body?.code]).toEqual([method, path, 503, 'unavailable']);
        expectDocumented(method, documentedPath, reply);
      }
      expect(calls.map(([method, , documentedPath]) => `${method} ${documentedPath}`).sort()).toEqual([...SHARED_STATE_ROUTES].sort());
    } finally {
      await t.close();
    }
  });

  it.each<[string, Record<string, string>, number]>([
    ['production without DOCS_ENABLED: not served', { NODE_ENV: 'production' }, 404],
    ['development with DOCS_ENABLED=false: not served', { DOCS_ENABLED: 'false' }, 404],
    ['production with DOCS_ENABLED=true: served', { NODE_ENV: 'production', DOCS_ENABLED: 'true' }, 200],
  ])('%s', async (_name, env, status) => {
    const production = { AUTH_MODE: 'jwt', JWT_SECRET: 'docs-test-secret-that-is-long-enough-0123456789' };
    const { child, baseUrl } = await startBuiltService({ API_KEYS: KEY, ...(env.NODE_ENV === 'production' ? production : {}), ...env });
    try {
      // Served without a key; when not served, not there even with one.
      const headers = status === 200 ? {} : WITH_KEY;
      expect((await request(baseUrl, 'GET', '/docs/json', undefined, headers)).status).toBe(status);
      expect((await request(baseUrl, 'GET', '/docs', undefined, headers)).status).toBe(status);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);
});
