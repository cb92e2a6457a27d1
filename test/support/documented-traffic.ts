import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE_DIR = join(tmpdir(), 'cgw-openapi-documents');

/** Every file the document can depend on: the sources and the locked dependency versions. */
function sourcesHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(path.slice(ROOT.length)).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  walk(join(ROOT, 'src'));
  hash.update(readFileSync(join(ROOT, 'package-lock.json')));
  return hash.digest('hex');
}

let sources: string | undefined;

/**
 * The app's OpenAPI document, built once per version of the sources and reused by every
 * test file after the first: building it loads @nestjs/swagger, some 0.4 s of CPU in each
 * file otherwise. The key is a hash of src/, package-lock.json and the app's controllers,
 * so an edit to any of them builds it anew; test/api-docs.e2e-spec.ts always builds its own.
 */
async function documentOf(app: INestApplication): Promise<object> {
  const controllers = [...app.get(ModulesContainer).values()].flatMap((module) => [...module.controllers.values()].map((wrapper) => String(wrapper.name))).sort();
  const key = createHash('sha256')
    .update((sources ??= sourcesHash()))
    .update(JSON.stringify([controllers, process.env.npm_package_version ?? '']))
    .digest('hex');
  const file = join(CACHE_DIR, `${key}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    const { buildOpenApiDocument } = await import('../../src/docs/openapi.js');
    const document = JSON.parse(JSON.stringify(buildOpenApiDocument(app)));
    mkdirSync(CACHE_DIR, { recursive: true });
    // Written whole, then renamed: a file read at the same time sees all of it or none.
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(document));
    renameSync(partial, file);
    return document;
  }
}

/**
 * Holds every e2e test's HTTP traffic to the OpenAPI document: a body the service took (2xx)
 * must be one the document allows, and every JSON answer must be documented, with its status
 * and shape. So the document is checked against everything the suites send and receive, not
 * a sample of it. The document is the app's own (see documentOf).
 */
export class DocumentedTraffic {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly document: any;
  private readonly routes: Array<{ method: string; template: string; pattern: RegExp }> = [];
  private readonly validators = new Map<string, ValidateFunction>();

  static async of(app: INestApplication): Promise<DocumentedTraffic> {
    return new DocumentedTraffic(await documentOf(app));
  }

  private constructor(document: object) {
    this.document = document;
    for (const [template, operations] of Object.entries<Record<string, unknown>>(this.document.paths)) {
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`);
      for (const method of Object.keys(operations)) this.routes.push({ method: method.toUpperCase(), template, pattern });
    }
  }

  /** Throws, naming the route, when the exchange contradicts the document. */
  check(method: string, url: string, sent: unknown, status: number, received: unknown, contentType: string | null): void {
    const path = new URL(url).pathname;
    const route = this.routes.find((r) => r.method === method.toUpperCase() && r.pattern.test(path));
    // Unknown routes are the 404 tests' business; the docs test checks every served route is documented.
    if (!route) return;
    const operation = this.document.paths[route.template][method.toLowerCase()];
    const where = `${method} ${route.template}`;
    if (status >= 200 && status < 300 && isJsonObject(sent)) {
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      if (!schema) throw new Error(`${where} took a body the document does not describe: ${preview(sent)}`);
      this.expectValid(`${where} request`, schema, sent);
    }
    const response = operation.responses?.[String(status)];
    if (!response) throw new Error(`${where} answered ${status}, which the document does not list: ${preview(received)}`);
    const schema = response.content?.['application/json']?.schema;
    if (schema && contentType?.includes('application/json')) this.expectValid(`${where} ${status} response`, schema, received);
  }

  private expectValid(what: string, schema: object, value: unknown): void {
    const key = `${what}`;
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile({ ...schema, components: this.document.components });
      this.validators.set(key, validate);
    }
    if (!validate(value)) throw new Error(`${what} does not match the document: ${this.ajv.errorsText(validate.errors)} in ${preview(value)}`);
  }
}

function isJsonObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function preview(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 300) ?? String(value);
}
