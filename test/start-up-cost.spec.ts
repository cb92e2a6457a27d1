import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * What a start must not load. @nestjs/swagger (530 ES modules, some 0.35 s of CPU) is loaded
 * when the OpenAPI document is first asked for: controllers take its decorators from
 * src/docs/api-decorators.ts, and only src/docs/openapi.ts, itself imported on demand,
 * imports it. The built service is started in a process of its own that notes every
 * import and require() of it.
 */
const APP_FACTORY = resolve('dist/app.factory.js');

/** The modules named `module` that the built app asked for: from creating it (with `env` added), and after a GET of `path` (if any). */
function requestsFor(module: string, path?: string, env: Record<string, string> = {}): { created: string[]; afterRequest: string[] } {
  if (!existsSync(APP_FACTORY)) throw new Error(`${APP_FACTORY} is missing: npm test builds it first`);
  const dir = mkdtempSync(join(tmpdir(), 'cgw-start-up-'));
  try {
    const log = join(dir, 'requests.log');
    // ES imports (static and import()) through a resolve hook, require() through Module._load.
    writeFileSync(join(dir, 'hooks.mjs'), [
      "import { appendFileSync } from 'node:fs';",
      'export async function resolve(specifier, context, next) {',
      `  if (specifier === ${JSON.stringify(module)} || specifier.startsWith(${JSON.stringify(module + '/')})) appendFileSync(${JSON.stringify(log)}, 'import ' + specifier + '\\n');`,
      '  return next(specifier, context);',
      '}',
    ].join('\n'));
    writeFileSync(join(dir, 'main.mjs'), [
      "import Module, { register } from 'node:module';",
      "import { appendFileSync } from 'node:fs';",
      `register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});`,
      'const load = Module._load;',
      `Module._load = function (request, ...rest) { if (request === ${JSON.stringify(module)} || request.startsWith(${JSON.stringify(module + '/')})) appendFileSync(${JSON.stringify(log)}, 'require ' + request + '\\n'); return load.call(this, request, ...rest); };`,
      `await import(${JSON.stringify(pathToFileURL(resolve('node_modules/reflect-metadata/Reflect.js')).href)});`,
      `const { createApp } = await import(${JSON.stringify(pathToFileURL(APP_FACTORY).href)});`,
      `const app = await createApp({ env: { WEBSOCKET_HOST: '127.0.0.1', WEBSOCKET_PORT: 0, DOCS_ENABLED: true, ...${JSON.stringify(env)} }, logLevels: false });`,
      "await app.listen(0, '127.0.0.1');",
      `appendFileSync(${JSON.stringify(log)}, 'created\\n');`,
      ...(path ? [`const response = await fetch('http://127.0.0.1:' + app.getHttpServer().address().port + ${JSON.stringify(path)});`, 'if (response.status !== 200) throw new Error(String(response.status));', 'await response.arrayBuffer();'] : []),
      'await app.close();',
      'process.exit(0);',
    ].join('\n'));
    writeFileSync(log, '');
    const run = spawnSync(process.execPath, [join(dir, 'main.mjs')], { env: { PATH: process.env.PATH, NODE_ENV: 'test' }, encoding: 'utf8', timeout: 60_000 });
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    if (run.status !== 0 || !lines.includes('created')) throw new Error(`the app did not start: ${run.stderr}${run.stdout}`);
    const at = lines.indexOf('created');
    return { created: lines.slice(0, at), afterRequest: lines.slice(at + 1) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('start-up cost', () => {
  it('a start loads no @nestjs/swagger, even with the docs served; the first /docs/json request does', () => {
    const requests = requestsFor('@nestjs/swagger', '/docs/json');
    expect(requests.created).toEqual([]);
    expect(requests.afterRequest).not.toEqual([]);
  }, 90_000);

  // Memory mode (the default) runs no Redis code and verifies no tokens: ioredis, the Redis
  // backend and jose are loaded only by the configurations that use them.
  it('a start in memory mode loads no ioredis; a start with REDIS_URL does', () => {
    expect(requestsFor('ioredis').created).toEqual([]);
    // Nothing listens there: the start goes on while Redis is unreachable (not ready).
    expect(requestsFor('ioredis', undefined, { REDIS_URL: 'redis://127.0.0.1:1' }).created).not.toEqual([]);
  }, 90_000);

  it('a start without a token key loads no jose; AUTH_MODE=jwt with a secret does', () => {
    expect(requestsFor('jose').created).toEqual([]);
    expect(requestsFor('jose', undefined, { AUTH_MODE: 'jwt', JWT_SECRET: 'a-test-secret-of-at-least-32-bytes!!' }).created).not.toEqual([]);
  }, 90_000);
});
