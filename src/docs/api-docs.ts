import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { buildOpenApiDocument } from './openapi.js';

export const DOCS_PATH = 'docs';

/**
 * Serves the Swagger UI at /docs and the OpenAPI document at /docs/json, both without an
 * API key (they describe the API; they hold no data). The document is built on the first
 * request, so a service that never shows it pays nothing at start-up.
 */
export function serveApiDocs(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      if (route.url === `/${DOCS_PATH}` || route.url.startsWith(`/${DOCS_PATH}/`)) route.config = { ...route.config, publicRoute: true };
    });
  SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: `${DOCS_PATH}/json`,
    raw: ['json'],
    ui: true,
  });
}
