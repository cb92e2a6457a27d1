import type { INestApplication } from '@nestjs/common';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { buildOpenApiDocument } from '../../src/docs/openapi.js';

/**
 * Holds every e2e test's HTTP traffic to the OpenAPI document: a body the service took (2xx)
 * must be one the document allows, and every JSON answer must be documented, with its status
 * and shape. So the document is checked against everything the suites send and receive, not
 * a sample of it. Built once per app from the app itself.
 */
export class DocumentedTraffic {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly document: any;
  private readonly routes: Array<{ method: string; template: string; pattern: RegExp }> = [];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(app: INestApplication) {
    this.document = JSON.parse(JSON.stringify(buildOpenApiDocument(app)));
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
