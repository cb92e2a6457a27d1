import { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { createHash } from 'node:crypto';
import type { FormSchema } from '../protocol/server-frames.js';

/**
 * The forms a prompt may carry (POST /notify `form`): MCP elicitation's requestedSchema, a
 * flat object of primitive fields. `formProblem` says what a schema has outside that subset;
 * `checkFormData` validates an answer's data against a form, compiled by ajv once per
 * distinct schema (a bounded LRU by its hash), so a vote never recompiles.
 */

export const MAX_FORM_FIELDS = 64;
const MAX_ENUM_VALUES = 100;
const MAX_TEXT = 2000;
const MAX_FIELD_NAME_LENGTH = 64;
/** Compiled forms kept: one per distinct schema, the least recently used dropped first. */
const COMPILED_FORMS = 256;

const FORMATS = ['email', 'uri', 'date', 'date-time'] as const;
const COMMON = ['type', 'title', 'description', 'default'];
const ALLOWED: Record<string, readonly string[]> = {
  string: [...COMMON, 'minLength', 'maxLength', 'format', 'enum', 'enumNames', 'oneOf'],
  number: [...COMMON, 'minimum', 'maximum'],
  integer: [...COMMON, 'minimum', 'maximum'],
  boolean: COMMON,
  array: [...COMMON, 'items', 'minItems', 'maxItems'],
};
const TOP = ['type', 'title', 'description', 'properties', 'required'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isText = (v: unknown) => typeof v === 'string' && v.length <= MAX_TEXT;

/** What makes `form` fall outside the supported subset, as "form: …", or null when it is inside. */
export function formProblem(form: unknown): string | null {
  if (!isObject(form)) return 'form: must be an object';
  for (const key of Object.keys(form)) if (!TOP.includes(key)) return unsupported(key, '');
  if (form.type !== 'object') return "form: /type must be 'object'";
  for (const key of ['title', 'description'] as const) if (form[key] !== undefined && !isText(form[key])) return `form: /${key} must be a string of at most ${MAX_TEXT} characters`;
  if (!isObject(form.properties)) return 'form: /properties must be an object';
  const names = Object.keys(form.properties);
  if (names.length === 0) return 'form: /properties must have at least one field';
  if (names.length > MAX_FORM_FIELDS) return `form: /properties may have at most ${MAX_FORM_FIELDS} fields`;
  for (const name of names) {
    if (name === '' || name.length > MAX_FIELD_NAME_LENGTH) return `form: field names must be 1 to ${MAX_FIELD_NAME_LENGTH} characters`;
    const problem = fieldProblem(form.properties[name], `/properties/${name}`);
    if (problem) return problem;
  }
  if (form.required !== undefined) {
    if (!Array.isArray(form.required) || !form.required.every((n) => typeof n === 'string' && names.includes(n))) return 'form: /required must list names of its properties';
  }
  return null;
}

function unsupported(keyword: string, path: string): string {
  return `form: keyword '${keyword}' at ${path || '/'} is not supported`;
}

function fieldProblem(field: unknown, path: string): string | null {
  if (!isObject(field)) return `form: ${path} must be an object`;
  const type = field.type;
  if (typeof type !== 'string' || !(type in ALLOWED)) return `form: ${path}/type must be one of string, number, integer, boolean, array`;
  for (const key of Object.keys(field)) if (!ALLOWED[type].includes(key)) return unsupported(key, path);
  for (const key of ['title', 'description'] as const) if (field[key] !== undefined && !isText(field[key])) return `form: ${path}/${key} must be a string of at most ${MAX_TEXT} characters`;
  for (const key of ['minLength', 'maxLength', 'minItems', 'maxItems'] as const) if (field[key] !== undefined && !isCount(field[key])) return `form: ${path}/${key} must be a whole number`;
  for (const key of ['minimum', 'maximum'] as const) if (field[key] !== undefined && !Number.isFinite(field[key])) return `form: ${path}/${key} must be a number`;
  if (type === 'string') {
    if (field.format !== undefined && !FORMATS.includes(field.format as (typeof FORMATS)[number])) return `form: ${path}/format must be one of ${FORMATS.join(', ')}`;
    if (field.enum !== undefined && !stringList(field.enum)) return `form: ${path}/enum must be 1 to ${MAX_ENUM_VALUES} strings`;
    if (field.enumNames !== undefined && (field.enum === undefined || !stringList(field.enumNames) || (field.enumNames as unknown[]).length !== (field.enum as unknown[]).length)) {
      return `form: ${path}/enumNames must go with enum, one name per value`;
    }
    if (field.oneOf !== undefined) {
      if (field.enum !== undefined) return `form: ${path} takes enum or oneOf, not both`;
      const problem = choicesProblem(field.oneOf, `${path}/oneOf`);
      if (problem) return problem;
    }
    if (field.default !== undefined && typeof field.default !== 'string') return `form: ${path}/default must be a string`;
  } else if (type === 'number' || type === 'integer') {
    if (field.default !== undefined && !(type === 'integer' ? Number.isSafeInteger(field.default) : Number.isFinite(field.default))) return `form: ${path}/default must be ${type === 'integer' ? 'an integer' : 'a number'}`;
  } else if (type === 'boolean') {
    if (field.default !== undefined && typeof field.default !== 'boolean') return `form: ${path}/default must be a boolean`;
  } else {
    const items = field.items;
    if (!isObject(items)) return `form: ${path}/items must be an object`;
    if (items.anyOf !== undefined) {
      for (const key of Object.keys(items)) if (key !== 'anyOf') return unsupported(key, `${path}/items`);
      const problem = choicesProblem(items.anyOf, `${path}/items/anyOf`);
      if (problem) return problem;
    } else {
      for (const key of Object.keys(items)) if (key !== 'type' && key !== 'enum') return unsupported(key, `${path}/items`);
      if (items.type !== 'string' || !stringList(items.enum)) return `form: ${path}/items must be {type: 'string', enum: [...]} or {anyOf: [{const, title}]}`;
    }
    if (field.default !== undefined && !(Array.isArray(field.default) && field.default.every((v) => typeof v === 'string'))) return `form: ${path}/default must be an array of strings`;
  }
  return null;
}

function stringList(value: unknown): boolean {
  return Array.isArray(value) && value.length >= 1 && value.length <= MAX_ENUM_VALUES && value.every((v) => typeof v === 'string' && v.length <= MAX_TEXT);
}

function choicesProblem(choices: unknown, path: string): string | null {
  if (!Array.isArray(choices) || choices.length === 0 || choices.length > MAX_ENUM_VALUES) return `form: ${path} must be 1 to ${MAX_ENUM_VALUES} choices`;
  for (const [i, choice] of choices.entries()) {
    if (!isObject(choice)) return `form: ${path}/${i} must be {const, title}`;
    for (const key of Object.keys(choice)) if (key !== 'const' && key !== 'title') return unsupported(key, `${path}/${i}`);
    if (typeof choice.const !== 'string' || (choice.title !== undefined && !isText(choice.title))) return `form: ${path}/${i} must be {const: string, title: string}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Validating answers

const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const DATE_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Four formats written out, rather than a dependency for them (ajv-formats brings dozens). */
const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false, removeAdditional: false });
ajv.addFormat('date', { validate: (v: string) => DATE.test(v) && !Number.isNaN(Date.parse(v)) });
ajv.addFormat('date-time', { validate: (v: string) => DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)) });
ajv.addFormat('email', EMAIL);
ajv.addFormat('uri', {
  validate: (v: string) => {
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(v)) return false;
    try {
      new URL(v);
      return true;
    } catch {
      return false;
    }
  },
});

interface CompiledForm {
  validate: ValidateFunction;
  defaults: Record<string, unknown>;
}

const compiled = new Map<string, CompiledForm>();
let compilations = 0;

/** How many forms were compiled since start (a test shows a vote does not recompile). */
export function formCompilations(): number {
  return compilations;
}

function compiledForm(form: FormSchema): CompiledForm {
  const key = createHash('sha256').update(JSON.stringify(form)).digest('base64url');
  const hit = compiled.get(key);
  if (hit) {
    // Most recently used last: the first key is the one to drop.
    compiled.delete(key);
    compiled.set(key, hit);
    return hit;
  }
  compilations++;
  const schema = { ...form, additionalProperties: false };
  const defaults: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(form.properties)) if (field.default !== undefined) defaults[name] = field.default;
  const entry: CompiledForm = { validate: ajv.compile(schema), defaults };
  compiled.set(key, entry);
  if (compiled.size > COMPILED_FORMS) compiled.delete(compiled.keys().next().value as string);
  return entry;
}

/** Compiles a form ahead of its first answer (at creation), so the answer finds it compiled. */
export function prepareForm(form: FormSchema): void {
  compiledForm(form);
}

export interface FormDataProblem {
  field: string;
  message: string;
}

/**
 * The answer's data with the form's defaults (the proposed values) for the fields it leaves
 * out, or what is wrong with it: the first failing field and why.
 */
export function checkFormData(form: FormSchema, data: Record<string, unknown>): { data: Record<string, unknown> } | { problem: FormDataProblem } {
  const { validate, defaults } = compiledForm(form);
  const merged = { ...defaults, ...data };
  if (validate(merged)) return { data: merged };
  return { problem: describe(validate.errors?.[0]) };
}

function describe(error: ErrorObject | undefined): FormDataProblem {
  if (!error) return { field: 'data', message: 'data does not fit the form' };
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  if (error.keyword === 'required' && params.missingProperty) return { field: params.missingProperty, message: `${params.missingProperty} is required` };
  if (error.keyword === 'additionalProperties' && params.additionalProperty) {
    return { field: params.additionalProperty, message: `${params.additionalProperty} is not a field of the form` };
  }
  const field = error.instancePath.split('/')[1] ?? 'data';
  const where = error.instancePath.slice(1).replace(/\//g, '.');
  return { field, message: `${where || 'data'} ${error.message ?? 'is not valid'}` };
}
