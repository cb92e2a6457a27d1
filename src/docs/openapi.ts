import { INestApplication, RequestMethod, Type } from '@nestjs/common';
import { METHOD_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants.js';
import * as swagger from '@nestjs/swagger';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { OperationObject, ParameterObject, ResponsesObject, SchemaObject } from '@nestjs/swagger';
import { inputRulesOf } from '../http/route-input.js';
import { dtosReachableFrom, isDescribedDto, schemaOf } from '../protocol/dto-schema.js';
import { ErrorCode, httpStatusOf } from '../protocol/error-code.enum.js';
import { ID_CHARACTERS_PATTERN, MAX_ID_LENGTH } from '../protocol/id.js';
import { applyRecordedDecorators } from './api-decorators.js';
import { API_ERRORS, API_SHARED_STATE } from './api-errors.decorator.js';
import { applyOperationDocs } from './operation-docs.js';
import { AnyJsonObjectSchema } from './response-schemas.js';

export const API_KEY_SCHEME = 'api-key';
const SCHEMAS = '#/components/schemas/';

/**
 * The OpenAPI 3.1 document of the REST API. @nestjs/swagger reads the routes, path
 * parameters and the responses declared on the controllers; the request bodies and
 * query parameters come from the same JSON Schemas the validator compiles (derived from
 * the DTOs' class-validator decorators, see dto-schema.ts), so documentation and
 * validation cannot disagree. Errors are listed per route with their `code` values.
 * This module is loaded on the first request for the document (api-docs.ts), and only then
 * are @nestjs/swagger and the controllers' swagger decorators applied (api-decorators.ts).
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  applyRecordedDecorators(swagger);
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Confirmation gateway')
    .setDescription(
      'Task services ask users to confirm steps and push them messages; users answer over WebSocket ' +
        '(see the AsyncAPI document, docs/asyncapi.yaml). Every error body is `{statusCode, code, message}`.',
    )
    .setVersion(process.env.npm_package_version ?? '0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'One of the keys in API_KEYS' }, API_KEY_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config, { operationIdFactory: (controller, method) => `${controller}_${method}` });
  const schemas = (document.components ??= {}).schemas ??= {};
  for (const route of routesOf(app)) {
    const operation = findOperation(document, route.operationId);
    if (!operation) continue;
    if (route.body) {
      for (const dto of dtosReachableFrom(route.body)) schemas[dto.name] = derivedSchema(dto);
      operation.requestBody = { required: true, content: { 'application/json': { schema: { $ref: SCHEMAS + route.body.name } } } };
    }
    if (route.anyJsonBody) operation.requestBody = { required: true, content: { 'application/json': { schema: AnyJsonObjectSchema } } };
    if (route.query) operation.parameters = [...(operation.parameters ?? []), ...queryParameters(route.query)];
    for (const parameter of (operation.parameters ?? []) as ParameterObject[]) {
      if (parameter.in === 'path' && route.idParams.includes(parameter.name)) parameter.schema = ID_SCHEMA;
    }
    operation.security = route.isPublic ? [] : [{ [API_KEY_SCHEME]: [] }];
    operation.responses = { ...operation.responses, ...errorResponses(route) };
  }
  applyOperationDocs(document);
  return document;
}

interface RouteDocs {
  operationId: string;
  body?: Type;
  anyJsonBody: boolean;
  /** Fastify reads a body on every method but GET and HEAD, whether the route wants one or not. */
  readsBody: boolean;
  query?: Type;
  /** Path parameters that are ids (`@IdParam`): refused with 400 unless they keep the id rule. */
  idParams: string[];
  isPublic: boolean;
  sharedState: boolean;
  errors: ErrorCode[];
}

/** Each controller method's body and query DTOs and id parameters: Nest's route metadata and the checks its decorators left (route-input.ts). */
function routesOf(app: INestApplication): RouteDocs[] {
  const routes: RouteDocs[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type;
      for (const method of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = controller.prototype[method] as Function;
        if (method === 'constructor' || typeof handler !== 'function') continue;
        const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as Record<string, { index: number; data?: unknown; pipes?: unknown[] }>;
        const types = (Reflect.getMetadata('design:paramtypes', controller.prototype, method) ?? []) as Type[];
        const route: RouteDocs = {
          operationId: `${controller.name}_${method}`,
          anyJsonBody: false,
          idParams: [],
          readsBody: ![RequestMethod.GET, RequestMethod.HEAD].includes(Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod),
          isPublic: Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler)?.publicRoute === true,
          sharedState: (Reflect.getMetadata(API_SHARED_STATE, handler) ?? Reflect.getMetadata(API_SHARED_STATE, controller)) === true,
          errors: (Reflect.getMetadata(API_ERRORS, handler) ?? []) as ErrorCode[],
        };
        const rules = inputRulesOf(handler);
        for (const [key, arg] of Object.entries(args)) {
          const kind = Number(key.split(':')[0]);
          const type = types[arg.index];
          const checked = rules.find((rule) => rule.index === arg.index)?.kind;
          if (kind === RouteParamtypes.BODY && checked === 'json-object') route.anyJsonBody = true;
          else if (kind === RouteParamtypes.BODY && checked === 'dto' && isDescribedDto(type)) route.body = type;
          else if (kind === RouteParamtypes.QUERY && checked === 'dto' && isDescribedDto(type)) route.query = type;
          else if (kind === RouteParamtypes.PARAM && checked === 'id') route.idParams.push(String(arg.data));
        }
        routes.push(route);
      }
    }
  }
  return routes;
}

const ID_SCHEMA: SchemaObject = { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH, pattern: ID_CHARACTERS_PATTERN };

function findOperation(document: OpenAPIObject, operationId: string): OperationObject | undefined {
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      if ((operation as OperationObject | undefined)?.operationId === operationId) return operation as OperationObject;
    }
  }
  return undefined;
}

function derivedSchema(dto: Function): SchemaObject {
  return schemaOf(dto, { ref: (nested) => SCHEMAS + nested.name }) as SchemaObject;
}

/** A query DTO's properties as query parameters (their values arrive as strings). */
function queryParameters(dto: Type): ParameterObject[] {
  const schema = derivedSchema(dto) as { properties: Record<string, SchemaObject>; required?: string[] };
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: schema.required?.includes(name) ?? false,
    schema: property,
  }));
}

/** The route's error responses, by status, each with the codes it can carry. */
function errorResponses(route: RouteDocs): ResponsesObject {
  const codes = new Set(route.errors);
  if (!route.isPublic) codes.add(ErrorCode.Unauthorized);
  if (route.sharedState) codes.add(ErrorCode.Unavailable);
  // What the error filter answers for anything unexpected, on every route.
  codes.add(ErrorCode.InternalError);
  if (route.readsBody) {
    codes.add(ErrorCode.InvalidMessage).add(ErrorCode.PayloadTooLarge).add(ErrorCode.UnsupportedMediaType);
  }
  if (route.query || route.idParams.length > 0) codes.add(ErrorCode.InvalidMessage);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(httpStatusOf(code), [...(byStatus.get(httpStatusOf(code)) ?? []), code]);
  const responses: ResponsesObject = {};
  for (const [status, statusCodes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[status] = {
      description: statusCodes.map((code) => `\`${code}\``).join(', '),
      content: { 'application/json': { schema: errorBodySchema(status, statusCodes) } },
    };
  }
  return responses;
}

export function errorBodySchema(status: number, codes: ErrorCode[]): SchemaObject {
  return {
    type: 'object',
    required: ['statusCode', 'code', 'message'],
    properties: {
      statusCode: { type: 'integer', enum: [status] },
      code: { type: 'string', enum: codes },
      message: { type: 'string' },
    },
  };
}
