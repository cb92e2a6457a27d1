import { getMetadataStorage, IS_OPTIONAL } from 'class-validator';
import { HAS_NO_CONTROL_CHARACTERS, ID_CHARACTERS_PATTERN } from './id.js';
import { MATCHES_JSON_SCHEMA } from './json-schema-rule.js';

/**
 * JSON Schema derived from the class-validator decorators of a DTO: the one description
 * of each body and frame that the compiled validator, the OpenAPI document and the
 * AsyncAPI document all use.
 *
 * Every rule maps to a schema that is at least as strict as the rule itself, so anything
 * the schema accepts class-validator accepts too. A DTO using a rule outside this table
 * gets no schema (`null`): it is validated by class-validator alone and documented from
 * its decorators by hand. The schema keeps the decorators' own rules, not fewer.
 */

export type JsonSchema = { [keyword: string]: unknown };

export interface SchemaOptions {
  /** How a nested DTO is referenced, e.g. `(name) => '#/components/schemas/' + name`. */
  ref: (dto: Function) => string;
  /**
   * A minimum length as class-validator counts it (`textMinLength`, a keyword the compiled
   * validator adds) instead of JSON Schema's `minLength`: class-validator does not count a
   * variation selector (U+FE0E/U+FE0F) after a character, JSON Schema does, so `minLength`
   * alone would accept "\uFE0F" as one character. (For `maxLength` the difference only
   * makes the schema stricter, which is safe.)
   */
  exactLengths?: boolean;
}

interface RuleMetadata {
  type: string;
  name?: string;
  propertyName: string;
  constraints?: any[];
  each?: boolean;
}

/** Set by `OptionalField()`: a missing field is optional, `null` is validated. */
export const PRESENT_ONLY = (_object: object, value: unknown): boolean => value !== undefined;

type Convert = (constraints: any[], exact: boolean) => JsonSchema | null;

const lengths = (min: number | undefined, max: number | undefined, exact: boolean): JsonSchema => ({
  type: 'string',
  ...(min !== undefined && (exact ? { textMinLength: min } : { minLength: min })),
  ...(max !== undefined && { maxLength: max }),
});

const isPrimitive = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

const RULES: Record<string, Convert> = {
  isString: () => ({ type: 'string' }),
  isBoolean: () => ({ type: 'boolean' }),
  isInt: () => ({ type: 'integer' }),
  isNumber: ([options]) => (Object.keys(options ?? {}).length === 0 ? { type: 'number' } : null),
  min: ([min]) => (typeof min === 'number' ? { type: 'number', minimum: min } : null),
  max: ([max]) => (typeof max === 'number' ? { type: 'number', maximum: max } : null),
  isLength: ([min, max], exact) => lengths(min, max, exact),
  maxLength: ([max], exact) => lengths(undefined, max, exact),
  minLength: ([min], exact) => lengths(min, undefined, exact),
  isIn: ([values]) => (Array.isArray(values) && values.every(isPrimitive) ? { enum: values } : null),
  // A RegExp with flags matches differently once it is only a `pattern` string.
  matches: ([pattern, modifiers]) =>
    pattern instanceof RegExp && pattern.flags === '' && modifiers === undefined ? { type: 'string', pattern: pattern.source } : null,
  isObject: () => ({ type: 'object' }),
  [HAS_NO_CONTROL_CHARACTERS]: () => ({ type: 'string', pattern: ID_CHARACTERS_PATTERN }),
  // The rule is the schema (json-schema-rule.ts): class-validator runs it compiled by ajv.
  [MATCHES_JSON_SCHEMA]: ([schema]) => (typeof schema === 'object' && schema !== null ? { ...(schema as JsonSchema) } : null),
};

const derived = new Map<Function, PropertyPlan[] | null>();

/** One property of a DTO as the schema sees it. */
export interface PropertyPlan {
  name: string;
  required: boolean;
  /** `@IsOptional()`: null is skipped by class-validator, so the schema accepts it. */
  nullable: boolean;
  rules: Array<{ schema?: JsonSchema; nested?: Function }>;
}

/** The DTO's properties with their rules, or null when a rule is outside the table. */
export function planOf(dto: Function): PropertyPlan[] | null {
  if (!derived.has(dto)) derived.set(dto, derivePlan(dto));
  return derived.get(dto) as PropertyPlan[] | null;
}

function derivePlan(dto: Function): PropertyPlan[] | null {
  const rules = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false) as unknown as RuleMetadata[];
  const byName = new Map<string, PropertyPlan>();
  for (const rule of rules) {
    let property = byName.get(rule.propertyName);
    if (!property) byName.set(rule.propertyName, (property = { name: rule.propertyName, required: true, nullable: false, rules: [] }));
    if (rule.each) return null;
    if (rule.type === 'conditionalValidation') {
      if (rule.name === IS_OPTIONAL) property.nullable = true;
      else if (rule.constraints?.[0] !== PRESENT_ONLY) return null;
      property.required = false;
    } else if (rule.type === 'isDefined') {
      property.rules.push({ schema: { defined: true } });
    } else if (rule.type === 'nestedValidation') {
      const nested = Reflect.getMetadata('design:type', dto.prototype, rule.propertyName) as Function | undefined;
      if (!nested || nested === Object || !planOf(nested)) return null;
      property.rules.push({ nested });
    } else if (rule.type === 'customValidation') {
      const convert = RULES[rule.name ?? ''];
      if (!convert || convert(rule.constraints ?? [], false) === null) return null;
      property.rules.push({ schema: { rule: rule.name, constraints: rule.constraints ?? [] } });
    } else if (rule.type !== 'whitelistValidation') {
      return null;
    }
  }
  return [...byName.values()];
}

/** True for a class with validation rules that all have a schema: a DTO the schemas cover. */
export function isDescribedDto(type: Function | undefined): type is Function {
  return type !== undefined && (planOf(type)?.length ?? 0) > 0;
}

/** The DTO's JSON Schema (an object schema), or null when it has a rule outside the table. */
export function schemaOf(dto: Function, options: SchemaOptions): JsonSchema | null {
  const plan = planOf(dto);
  if (!plan) return null;
  const properties: Record<string, JsonSchema> = {};
  for (const property of plan) properties[property.name] = propertySchema(property, options);
  const required = plan.filter((p) => p.required).map((p) => p.name);
  return { type: 'object', properties, ...(required.length > 0 && { required }) };
}

/** The nested DTOs a DTO refers to, itself first, each once. */
export function dtosReachableFrom(dto: Function, seen = new Set<Function>()): Function[] {
  if (seen.has(dto)) return [];
  seen.add(dto);
  const nested = (planOf(dto) ?? []).flatMap((p) => p.rules.flatMap((r) => (r.nested ? [r.nested] : [])));
  return [dto, ...nested.flatMap((n) => dtosReachableFrom(n, seen))];
}

function propertySchema(property: PropertyPlan, options: SchemaOptions): JsonSchema {
  const exact = options.exactLengths === true;
  const parts = property.rules.map((rule) => {
    // In `allOf`, since a `$ref` with sibling keywords is read differently by different drafts.
    if (rule.nested) return { type: 'object', allOf: [{ $ref: options.ref(rule.nested) }] };
    const { rule: name, constraints } = rule.schema as { rule?: string; constraints?: any[] };
    return name ? (RULES[name](constraints ?? [], exact) as JsonSchema) : {};
  });
  const merged = mergeAll(parts);
  // `@IsDefined()`: null and missing are refused; a type, if there is one, refuses null already.
  if (property.rules.some((rule) => (rule.schema as { defined?: boolean } | undefined)?.defined) && !('type' in merged)) {
    merged.not = { type: 'null' };
  }
  return property.nullable && Object.keys(merged).length > 0 ? { anyOf: [merged, { type: 'null' }] } : merged;
}

/**
 * All rules must hold: one schema when their keywords do not collide, `allOf` otherwise.
 * `integer` and `number` meet as `integer`, which is what both rules together allow.
 */
function mergeAll(parts: JsonSchema[]): JsonSchema {
  const merged: JsonSchema = {};
  const rest: JsonSchema[] = [];
  for (const part of parts) {
    const collides = Object.keys(part).some((key) => key in merged && !(key === 'type' && sameType(merged.type, part.type)));
    if (collides) {
      rest.push(part);
      continue;
    }
    for (const [key, value] of Object.entries(part)) {
      merged[key] = key === 'type' && key in merged ? narrowerType(merged.type, value) : value;
    }
  }
  return rest.length === 0 ? merged : { allOf: [merged, ...rest] };
}

const sameType = (a: unknown, b: unknown) => a === b || (isNumeric(a) && isNumeric(b));
const isNumeric = (t: unknown) => t === 'number' || t === 'integer';
const narrowerType = (a: unknown, b: unknown) => (a === 'integer' || b === 'integer' ? 'integer' : a);
