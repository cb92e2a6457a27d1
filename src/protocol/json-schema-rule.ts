import { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { ValidateBy, ValidationOptions } from 'class-validator';

/**
 * A DTO field whose shape is a JSON Schema of its own (an array of objects, an object of id
 * lists): class-validator runs the schema compiled by ajv, and dto-schema.ts puts the same
 * schema into the DTO's schema, so the compiled fast path, the OpenAPI document and the
 * verdicts are one description.
 */
export const MATCHES_JSON_SCHEMA = 'matchesJsonSchema';

const ajv = new Ajv({ unicodeRegExp: false, allErrors: false, coerceTypes: false, useDefaults: false, removeAdditional: false, strict: true });

const compiled = new WeakMap<object, ValidateFunction>();

function validatorOf(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) compiled.set(schema, (validate = ajv.compile(schema)));
  return validate;
}

/** "must have at most 16 items" at "/0/label" -> "[0].label must …". */
function describe(error: ErrorObject | undefined): string {
  if (!error) return 'is not valid';
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
    .join('');
  const extra = error.keyword === 'additionalProperties' ? ` (${String((error.params as { additionalProperty?: string }).additionalProperty)})` : '';
  return `${path ? `${path} ` : ''}${error.message ?? 'is not valid'}${extra}`;
}

export function MatchesJsonSchema(schema: object, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: MATCHES_JSON_SCHEMA,
      constraints: [schema],
      validator: {
        validate: (value: unknown) => validatorOf(schema)(value),
        defaultMessage: (args) => {
          const validate = validatorOf(schema);
          validate(args?.value);
          return `$property${describe(validate.errors?.[0]).replace(/^(?=[^.[])/, ' ')}`;
        },
      },
    },
    options,
  );
}
