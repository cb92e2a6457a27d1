import { Body, Param, Query, type Type } from '@nestjs/common';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { idProblem } from '../protocol/id.js';
import { validationPipe } from '../protocol/validation.js';
import { replyWithError } from './http-error.filter.js';

/** Where a route's input is: the parsed body, the query string, or one path parameter. */
type Source = 'body' | 'query' | 'param';

/** How an input is checked; openapi.ts documents each kind. */
export type InputKind = 'dto' | 'json-object' | 'id';

/** One checked input of a route: its parameter's position, where it comes from, what it must be. */
export interface InputRule {
  index: number;
  source: Source;
  /** The path parameter's name (source 'param'). */
  name?: string;
  kind: InputKind;
  /** Returns the value the handler gets (a DTO instance), or a promise of it; throws when it is refused. */
  check: (value: unknown) => unknown;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's checked inputs in parameter order (the decorators below). */
    input?: InputRule[];
  }
}

/**
 * REST input is checked in a Fastify hook, before Nest runs the route, rather than by a
 * global pipe: Nest runs pipes through three async functions per parameter, which measured
 * at about 5 % of a targeted push's CPU and of a confirm round trip's. The rules are the
 * same (the DTOs, through the same validation pipe), and the handler reads the checked
 * values through Nest's own @Body(), @Query() and @Param(), which the API documents also read.
 */

/** `@Body()`, validated against the parameter's DTO class. */
export function ValidBody(): ParameterDecorator {
  return inputDecorator('body', undefined, (metatype) => dtoCheck('body', metatype));
}

/** `@Query()`, validated against the parameter's DTO class (values arrive as strings). */
export function ValidQuery(): ParameterDecorator {
  return inputDecorator('query', undefined, (metatype) => dtoCheck('query', metatype));
}

/** `@Body()` that must be a JSON object (not an array, string or nothing); any fields. */
export function JsonObjectBody(): ParameterDecorator {
  return inputDecorator('body', undefined, () => ({ kind: 'json-object', check: jsonObject }));
}

/** `@Param(name)` for a path parameter that is an id (src/protocol/id.ts), else `invalid_message`. */
export function IdParam(name: string): ParameterDecorator {
  return inputDecorator('param', name, () => ({ kind: 'id', check: (value) => id(name, value) }));
}

/** The route's checked inputs, for the API documents and the tests. */
export function inputRulesOf(handler: Function): InputRule[] {
  return (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler)?.input ?? []) as InputRule[];
}

/** Adds to a route's Fastify config (RouteConfig replaces it; several decorators contribute). */
export function mergeRouteConfig(handler: Function, patch: Record<string, unknown>): void {
  const config = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) ?? {}) as Record<string, unknown>;
  Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...config, ...patch }, handler);
}

/**
 * Checks every route's inputs once the body is parsed, and hands the handler the checked
 * values; a refusal is the 400 the filter would have sent. Routes without inputs cost one lookup.
 */
export function checkRouteInputs(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', (request, reply, done) => {
    const rules = request.routeOptions.config.input;
    if (rules === undefined) return done();
    let pending: Promise<void> | undefined;
    try {
      pending = applyRules(request, rules);
    } catch (error) {
      return replyWithError(reply, error);
    }
    if (pending === undefined) return done();
    pending.then(() => done(), (error: unknown) => replyWithError(reply, error));
  });
}

/**
 * Checks every input; synchronous unless a check is not (a DTO the compiled validator cannot
 * settle goes to class-validator, which answers a promise). The first refusal in parameter
 * order wins, as with pipes, and every promise is awaited: a second rejection left unheard
 * would take the process down.
 */
function applyRules(request: FastifyRequest, rules: InputRule[]): Promise<void> | undefined {
  let pending: Array<{ rule: InputRule; checked: Promise<unknown> }> | undefined;
  for (const rule of rules) {
    let checked: unknown;
    try {
      checked = rule.check(read(request, rule));
    } catch (error) {
      if (pending === undefined) throw error;
      checked = Promise.reject(error);
    }
    if (checked instanceof Promise) (pending ??= []).push({ rule, checked });
    else write(request, rule, checked);
  }
  return pending && settleInOrder(request, pending);
}

async function settleInOrder(request: FastifyRequest, pending: Array<{ rule: InputRule; checked: Promise<unknown> }>): Promise<void> {
  const outcomes = await Promise.allSettled(pending.map(({ checked }) => checked));
  for (const [index, outcome] of outcomes.entries()) {
    if (outcome.status === 'rejected') throw outcome.reason;
    write(request, pending[index].rule, outcome.value);
  }
}

function read(request: FastifyRequest, rule: InputRule): unknown {
  if (rule.source === 'body') return request.body;
  if (rule.source === 'query') return request.query;
  return (request.params as Record<string, unknown>)[rule.name!];
}

function write(request: FastifyRequest, rule: InputRule, value: unknown): void {
  if (rule.source === 'body') request.body = value;
  else if (rule.source === 'query') request.query = value;
  else (request.params as Record<string, unknown>)[rule.name!] = value;
}

type RuleOf = (metatype: Type | undefined) => Pick<InputRule, 'kind' | 'check'>;

/** Nest's own parameter decorator, plus the rule in the route's config for the hook. */
function inputDecorator(source: Source, name: string | undefined, ruleOf: RuleOf): ParameterDecorator {
  const nestDecorator = source === 'body' ? Body() : source === 'query' ? Query() : Param(name!);
  return (target, key, index) => {
    nestDecorator(target, key, index);
    const handler = (target as Record<string | symbol, Function>)[key!];
    // TypeScript records the parameter types before it runs the parameter decorators.
    const metatype = (Reflect.getMetadata('design:paramtypes', target, key!) as Type[] | undefined)?.[index];
    const rule: InputRule = { index, source, ...(name !== undefined && { name }), ...ruleOf(metatype) };
    const rules = [...inputRulesOf(handler).filter((other) => other.index !== index), rule].sort((a, b) => a.index - b.index);
    mergeRouteConfig(handler, { input: rules });
  };
}

function dtoCheck(type: 'body' | 'query', metatype: Type | undefined): Pick<InputRule, 'kind' | 'check'> {
  if (!metatype || metatype === Object) throw new Error(`@Valid${type === 'body' ? 'Body' : 'Query'}() needs a DTO class as the parameter's type`);
  return { kind: 'dto', check: (value) => validationPipe.transform(value, { type, metatype }) };
}

function jsonObject(value: unknown): Record<string, unknown> {
  // The depth limit first, as for every input (src/protocol/validation.ts).
  validationPipe.transform(value, { type: 'body', metatype: Object });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GatewayError(ErrorCode.InvalidMessage, 'The body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function id(name: string, value: unknown): string {
  const problem = idProblem(value);
  if (problem) throw new GatewayError(ErrorCode.InvalidMessage, `${name} ${problem}`);
  return value as string;
}
