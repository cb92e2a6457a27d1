import { Ajv, ValidateFunction } from 'ajv';
import { minLength } from 'class-validator';
import { dtosReachableFrom, planOf, PropertyPlan, schemaOf } from './dto-schema.js';

/**
 * The fast path of validation: each DTO's JSON Schema (derived from its decorators, see
 * dto-schema.ts) compiled once by ajv. It only ever says "valid" (returning the
 * whitelisted DTO instance) or "don't know". Since every schema is at least as strict as
 * the decorators it comes from, anything it refuses goes to class-validator, which stays
 * the authority on verdicts and on error messages.
 */

export const NOT_SURE = Symbol('not sure');

interface CompiledDto {
  validate: ValidateFunction;
  project: (value: Record<string, unknown>) => object;
}

const ajv = new Ajv({
  // class-validator builds its RegExp without the `u` flag, so the schema's pattern must too.
  unicodeRegExp: false,
  allErrors: false,
  coerceTypes: false,
  useDefaults: false,
  removeAdditional: false,
  strict: true,
});

/**
 * A minimum length as class-validator counts it (see dto-schema.ts). class-validator counts
 * at least a third of the UTF-16 units (a surrogate pair followed by a variation selector,
 * three units, is its smallest character), so long strings need no counting at all.
 */
ajv.addKeyword({
  keyword: 'textMinLength',
  type: 'string',
  schemaType: 'number',
  errors: false,
  validate: (min: number, value: string) => value.length >= 3 * min || minLength(value, min),
});

const keys = new Map<Function, string>();
const compiled = new Map<Function, CompiledDto | null>();

function keyOf(dto: Function): string {
  let key = keys.get(dto);
  if (key === undefined) keys.set(dto, (key = `dto-${keys.size}-${dto.name}`));
  return key;
}

/** The whitelisted instance when `value` is certainly valid for `dto`, else NOT_SURE. */
export function validateCompiled(dto: Function, value: unknown): object | typeof NOT_SURE {
  let plan = compiled.get(dto);
  if (plan === undefined) compiled.set(dto, (plan = compile(dto)));
  if (!plan || !plan.validate(value)) return NOT_SURE;
  return plan.project(value as Record<string, unknown>);
}

function compile(dto: Function): CompiledDto | null {
  for (const reachable of dtosReachableFrom(dto)) {
    const key = keyOf(reachable);
    if (ajv.getSchema(key)) continue;
    const schema = schemaOf(reachable, { ref: keyOf, exactLengths: true });
    if (!schema) return null;
    ajv.addSchema(schema, key);
  }
  const validate = ajv.getSchema(keyOf(dto));
  return validate ? { validate, project: projector(dto) } : null;
}

/**
 * Copies the declared properties into a new instance of the DTO (nested DTOs likewise):
 * what ValidationPipe's `whitelist` and `transform` make of valid input.
 */
function projector(dto: Function): (value: Record<string, unknown>) => object {
  const plan = planOf(dto) as PropertyPlan[];
  const fields = plan.map((property) => {
    const nested = property.rules.find((rule) => rule.nested)?.nested;
    return { name: property.name, nested: nested ? projector(nested) : undefined };
  });
  const prototype = dto.prototype as object;
  return (source) => {
    const instance = Object.create(prototype) as Record<string, unknown>;
    for (const field of fields) {
      if (!Object.hasOwn(source, field.name)) continue;
      const value = source[field.name];
      if (value === undefined) continue;
      instance[field.name] = field.nested && typeof value === 'object' && value !== null ? field.nested(value as Record<string, unknown>) : value;
    }
    return instance;
  };
}
