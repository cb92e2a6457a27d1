import { getMetadataStorage } from 'class-validator';

/**
 * A fast path for the common case: valid input to a DTO whose rules are all simple ones.
 * class-validator rebuilds its rule list and runs a promise per rule on every call; this
 * reads the same decorators once per class and checks them directly. It only ever says
 * "valid" (returning the whitelisted instance) or "don't know": anything invalid, unusual
 * or unsupported goes through class-validator, which stays the authority on rules and
 * error messages.
 */

type Check = (value: unknown) => boolean;
type Condition = (object: object, value: unknown) => boolean;

interface CompiledProperty {
  name: string;
  conditions: Condition[];
  checks: Check[];
  nested?: CompiledClass;
}

interface CompiledClass {
  prototype: object;
  properties: CompiledProperty[];
}

interface RuleMetadata {
  type: string;
  name?: string;
  propertyName: string;
  constraints?: any[];
  each?: boolean;
}

/** Only plain BMP text below the surrogates: there `length` counts as the validator library does. */
const SIMPLE_TEXT = /^[\u0000-\ud7ff]*$/;
const isStr = (v: unknown): v is string => typeof v === 'string' && SIMPLE_TEXT.test(v);
const isNum = (v: unknown): v is number => typeof v === 'number';

const RULES: Record<string, (constraints: any[]) => Check | null> = {
  isString: () => isStr,
  isBoolean: () => (v) => typeof v === 'boolean',
  isInt: () => (v) => isNum(v) && Number.isInteger(v),
  isNumber: ([options]) => (Object.keys(options ?? {}).length === 0 ? (v) => isNum(v) && Number.isFinite(v) : null),
  min: ([min]) => (v) => isNum(v) && v >= min,
  max: ([max]) => (v) => isNum(v) && v <= max,
  isLength: ([min, max]) => (v) => isStr(v) && v.length >= min && (max === undefined || v.length <= max),
  maxLength: ([max]) => (v) => isStr(v) && v.length <= max,
  minLength: ([min]) => (v) => isStr(v) && v.length >= min,
  isIn: ([values]) => (v) => (values as unknown[]).includes(v),
  matches: ([pattern, modifiers]) =>
    pattern instanceof RegExp && !pattern.global && !pattern.sticky && modifiers === undefined ? (v) => isStr(v) && pattern.test(v) : null,
  isObject: () => (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  isDefined: () => (v) => v !== undefined && v !== null,
};

const compiled = new Map<Function, CompiledClass | null>();

export const NOT_SURE = Symbol('not sure');

/** The whitelisted instance when `value` is certainly valid, else NOT_SURE. */
export function validateFast(metatype: Function, value: unknown): object | typeof NOT_SURE {
  let plan = compiled.get(metatype);
  if (plan === undefined) compiled.set(metatype, (plan = compile(metatype)));
  return plan ? build(plan, value) : NOT_SURE;
}

function build(plan: CompiledClass, value: unknown): object | typeof NOT_SURE {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return NOT_SURE;
  const source = value as Record<string, unknown>;
  const instance = Object.create(plan.prototype) as Record<string, unknown>;
  for (const property of plan.properties) {
    const field = Object.hasOwn(source, property.name) ? source[property.name] : undefined;
    if (appliesTo(property, source, field) && !passes(property, field)) return NOT_SURE;
    if (field === undefined) continue;
    if (property.nested && typeof field === 'object' && field !== null) {
      const nested = build(property.nested, field);
      if (nested === NOT_SURE) return NOT_SURE;
      instance[property.name] = nested;
    } else {
      instance[property.name] = field;
    }
  }
  return instance;
}

// Plain loops: `every` with a closure allocated a function per property per request.
function appliesTo(property: CompiledProperty, source: object, field: unknown): boolean {
  for (const applies of property.conditions) if (!applies(source, field)) return false;
  return true;
}

function passes(property: CompiledProperty, field: unknown): boolean {
  for (const check of property.checks) if (!check(field)) return false;
  return true;
}

function compile(metatype: Function): CompiledClass | null {
  const rules = getMetadataStorage().getTargetValidationMetadatas(metatype, '', true, false) as unknown as RuleMetadata[];
  const byName = new Map<string, CompiledProperty>();
  for (const rule of rules) {
    let property = byName.get(rule.propertyName);
    if (!property) byName.set(rule.propertyName, (property = { name: rule.propertyName, conditions: [], checks: [] }));
    if (rule.each) return null;
    if (rule.type === 'conditionalValidation') {
      property.conditions.push(rule.constraints?.[0] as Condition);
    } else if (rule.type === 'nestedValidation') {
      const nestedType = Reflect.getMetadata('design:type', metatype.prototype, rule.propertyName) as Function | undefined;
      const nested = nestedType && nestedType !== Object ? compile(nestedType) : null;
      if (!nested) return null;
      property.nested = nested;
    } else if (rule.type === 'customValidation' || rule.type === 'isDefined') {
      const check = RULES[rule.name ?? '']?.(rule.constraints ?? []);
      if (!check) return null;
      property.checks.push(check);
    } else if (rule.type !== 'whitelistValidation') {
      return null;
    }
  }
  return { prototype: metatype.prototype, properties: [...byName.values()] };
}
