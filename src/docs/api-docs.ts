import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { refuseFromHook } from '../http/http-error.filter.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { pageCsp, pageSecurityHeaders } from '../http/page-security.js';

export const DOCS_PATH = 'docs';

/**
 * The page loads this origin's files only, runs no inline script or style, and is never
 * framed. Swagger UI renders descriptions with innerHTML (through DOMPurify), so Trusted
 * Types, which the inbox page has, cannot be required here. `data:` images are the icons in
 * Swagger UI's stylesheet.
 */
export const DOCS_CSP = pageCsp();

const SECURITY_HEADERS = pageSecurityHeaders(DOCS_CSP);

interface DocsFile {
  body: Buffer;
  contentType: string;
}

/** The repository root: this file sits two levels down, in src/docs or dist/docs. */
const PAGE_DIR = fileURLToPath(new URL('../../src/docs/public/', import.meta.url));
const PAGE = 'index.html';

/**
 * Every file the page needs, and nothing else of swagger-ui-dist (its package.json, source
 * maps, other bundles and sample pages stay unserved). Read on the first request.
 */
function readDocsFiles(): Map<string, DocsFile> {
  const swaggerUi = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  return new Map([
    [PAGE, { body: readFileSync(join(PAGE_DIR, PAGE)), contentType: 'text/html; charset=utf-8' }],
    ['swagger-ui-init.js', { body: readFileSync(join(PAGE_DIR, 'swagger-ui-init.js')), contentType: 'text/javascript; charset=utf-8' }],
    ['swagger-ui-bundle.js', { body: readFileSync(join(swaggerUi, 'swagger-ui-bundle.js')), contentType: 'text/javascript; charset=utf-8' }],
    ['swagger-ui.css', { body: readFileSync(join(swaggerUi, 'swagger-ui.css')), contentType: 'text/css; charset=utf-8' }],
  ]);
}

/**
 * Serves the Swagger UI at /docs and the OpenAPI document at /docs/json, both without an
 * API key (they describe the API; they hold no data), under a strict CSP. The document and
 * the files are read on the first request, so a service that never shows them pays nothing
 * at start-up.
 */
export function serveApiDocs(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRoute', (route) => {
    if (route.url === `/${DOCS_PATH}` || route.url.startsWith(`/${DOCS_PATH}/`)) route.config = { ...route.config, publicRoute: true };
  });
  let files: Map<string, DocsFile> | undefined;
  // Built, and @nestjs/swagger loaded, on the first request (see api-decorators.ts).
  let document: Promise<OpenAPIObject> | undefined;
  const fileNamed = (name: string) => (files ??= readDocsFiles()).get(name);
  fastify.get(`/${DOCS_PATH}`, (_request, reply) => sendFile(reply, fileNamed(PAGE)));
  fastify.get(`/${DOCS_PATH}/json`, async (_request, reply) => {
    document ??= import('./openapi.js').then(({ buildOpenApiDocument }) => buildOpenApiDocument(app));
    return reply.headers(SECURITY_HEADERS).send(await document);
  });
  fastify.get<{ Params: { file: string } }>(`/${DOCS_PATH}/:file`, (request, reply) => {
    sendFile(reply, request.params.file === PAGE ? undefined : fileNamed(request.params.file));
  });
}

function sendFile(reply: FastifyReply, file: DocsFile | undefined): void {
  void reply.headers(SECURITY_HEADERS);
  if (!file) return refuseFromHook(reply, NOT_A_DOCS_FILE);
  void reply.type(file.contentType).send(file.body);
}

const NOT_A_DOCS_FILE = new GatewayError(ErrorCode.NotFound, 'No such file of the API docs');
