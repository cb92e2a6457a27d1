import { ArgumentMetadata, PipeTransform, ValidationError, ValidationPipe } from '@nestjs/common';
import { WsParamtype } from '@nestjs/websockets/enums/ws-paramtype.enum.js';
import { ValidateIf, ValidationOptions } from 'class-validator';
import { ErrorCode, GatewayError } from './error-code.enum.js';
import { NOT_SURE, validateCompiled } from './compiled-validator.js';
import { PRESENT_ONLY } from './dto-schema.js';

/** Deeper input is refused before anything walks it recursively (class-transformer, JSON.stringify). */
export const MAX_INPUT_DEPTH = 32;

/**
 * Rules about what a field is rather than about its value, in the order their message is
 * preferred: "step_result must be an object" says more than "should not be null or undefined".
 */
const TYPE_RULES = ['isString', 'isInt', 'isNumber', 'isBoolean', 'isObject', 'isArray', 'nestedValidation', 'isDefined'];

/**
 * Class-validator's errors as the client reads them: first each missing field, once, as
 * "<path> is required", then the problems of the fields that are there, nested paths
 * included. A field of the wrong type gets that message only, not its length or range
 * rules too: "user_id is required; step must be an integer number; feedback must be shorter…".
 * Needs the errors with their values (`validationError.value`), to tell missing from wrong.
 */
export function describeValidationErrors(errors: ValidationError[]): string[] {
  const missing: string[] = [];
  const problems: string[] = [];
  collectProblems(errors, '', missing, problems);
  return [...missing.map((path) => `${path} is required`), ...problems];
}

function collectProblems(errors: ValidationError[], parent: string, missing: string[], problems: string[]): void {
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    if (error.value === undefined) {
      missing.push(path);
      continue;
    }
    const constraints = error.constraints ?? {};
    const typeRule = TYPE_RULES.find((rule) => rule in constraints);
    const texts = typeRule ? [constraints[typeRule]] : Object.values(constraints);
    for (const text of texts) problems.push(text.replace(error.property, path));
    collectProblems(error.children ?? [], path, missing, problems);
  }
}

/**
 * True when objects or arrays nest deeper than `limit`. The recursion stops at the limit,
 * so any input is safe, and it allocates nothing: it runs on every validated frame and body.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit <= 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestsDeeperThan(item, limit - 1)) return true;
    return false;
  }
  for (const key in value) {
    if (Object.hasOwn(value, key) && nestsDeeperThan((value as Record<string, unknown>)[key], limit - 1)) return true;
  }
  return false;
}

/**
 * Like `@IsOptional()`, but only a missing field is optional: `null` is validated (and
 * refused by the field's type check) instead of reaching the services as "no value".
 */
export function OptionalField(options?: ValidationOptions): PropertyDecorator {
  return ValidateIf(PRESENT_ONLY, options);
}

/** Nest's ValidationPipe as the service configures it: the authority on verdicts and messages. */
export function classValidatorPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidUnknownValues: false,
    // The values tell a missing field from a wrong one; the messages never show them.
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => new GatewayError(ErrorCode.InvalidMessage, describeValidationErrors(errors).join('; ')),
  });
}

/** What clients send: bodies, query strings, path parameters, socket frames. Not the socket itself. */
const INPUT_TYPES: ReadonlySet<unknown> = new Set<unknown>(['body', 'query', 'param', WsParamtype.PAYLOAD]);

const BUILT_IN_TYPES: ReadonlySet<Function> = new Set([Object, String, Number, Boolean, Array, Buffer, Date]);

/**
 * Validates socket frames and REST input against their DTOs. Failures become
 * `invalid_message` errors: an `error` frame on a socket, a 400 over HTTP. Input the
 * DTO's compiled JSON Schema accepts is returned at once, not as a promise: Nest awaits
 * either, and this runs for every body, query and frame. Anything else goes to Nest's
 * ValidationPipe (class-validator and class-transformer), which decides and words the errors.
 */
class ProtocolValidationPipe implements PipeTransform {
  private readonly classValidation = classValidatorPipe();

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const { metatype } = metadata;
    // Every input, typed or not: a plain object that nests too deep would overflow the stack
    // of whatever walks it next (class-transformer, JSON.stringify of a broadcast or a pong).
    if (INPUT_TYPES.has(metadata.type) && nestsDeeperThan(value, MAX_INPUT_DEPTH)) {
      throw new GatewayError(ErrorCode.InvalidMessage, `Input nests deeper than ${MAX_INPUT_DEPTH} levels`);
    }
    // What ValidationPipe makes of these (no rules, no conversion), without its promise.
    if (metatype === Object || (metatype === String && typeof value === 'string')) return value;
    if (!metatype || BUILT_IN_TYPES.has(metatype) || metadata.type === 'custom') return this.classValidation.transform(value, metadata);
    const instance = validateCompiled(metatype, value);
    return instance === NOT_SURE ? this.classValidation.transform(value, metadata) : instance;
  }
}

export const validationPipe = new ProtocolValidationPipe();
