import { describe, expect, it } from '@jest/globals';
import type { FormSchema } from '../protocol/server-frames.js';
import { checkFormData, formCompilations, formProblem, prepareForm } from './form-schema.js';

const FORM: FormSchema = {
  type: 'object',
  properties: {
    email: { type: 'string', format: 'email' },
    when: { type: 'string', format: 'date' },
    at: { type: 'string', format: 'date-time' },
    site: { type: 'string', format: 'uri' },
    size: { type: 'number', minimum: 0.5 },
    colour: { type: 'string', oneOf: [{ const: 'red', title: 'Red' }, { const: 'blue', title: 'Blue' }] },
    tags: { type: 'array', items: { anyOf: [{ const: 'a', title: 'A' }, { const: 'b' }] }, maxItems: 1, default: ['a'] },
    many: { type: 'array', items: { type: 'string', enum: ['x', 'y'] }, minItems: 1 },
  },
  required: ['email'],
};

describe('form schemas', () => {
  it('accepts the MCP elicitation subset and names the keyword and path of anything else', () => {
    expect(formProblem(FORM)).toBeNull();
    expect(formProblem({ type: 'object', properties: { a: { type: 'string', pattern: 'x' } } })).toBe("form: keyword 'pattern' at /properties/a is not supported");
    expect(formProblem({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false })).toBe("form: keyword 'additionalProperties' at / is not supported");
    expect(formProblem({ type: 'object', properties: { a: { type: 'array', items: { type: 'string', enum: ['x'], minLength: 1 } } } })).toBe("form: keyword 'minLength' at /properties/a/items is not supported");
    expect(formProblem({ type: 'object', properties: { a: { type: 'string', format: 'ipv4' } } })).toContain('/properties/a/format');
    expect(formProblem({ type: 'object', properties: { a: { type: 'integer', default: 1.5 } } })).toContain('/properties/a/default');
    expect(formProblem({ type: 'object', properties: { a: { type: 'string' } }, required: ['b'] })).toContain('/required');
    expect(formProblem({ type: 'array' })).toContain('/type');
  });

  it('validates answers naming the failing field, fills in defaults, and compiles each schema once', () => {
    prepareForm(FORM);
    const before = formCompilations();
    expect(checkFormData(FORM, { email: 'a@b.co', when: '2026-02-28', at: '2026-02-28T10:00:00Z', site: 'https://x.test/p', size: 1, colour: 'red', many: ['x'] })).toEqual({
      data: { email: 'a@b.co', when: '2026-02-28', at: '2026-02-28T10:00:00Z', site: 'https://x.test/p', size: 1, colour: 'red', many: ['x'], tags: ['a'] },
    });
    const problems: Array<[Record<string, unknown>, string]> = [
      [{}, 'email'],
      [{ email: 'nope' }, 'email'],
      [{ email: 'a@b.co', when: '2026-13-01' }, 'when'],
      [{ email: 'a@b.co', at: 'yesterday' }, 'at'],
      [{ email: 'a@b.co', site: 'not a uri' }, 'site'],
      [{ email: 'a@b.co', size: 0.1 }, 'size'],
      [{ email: 'a@b.co', colour: 'green' }, 'colour'],
      [{ email: 'a@b.co', tags: ['a', 'b'] }, 'tags'],
      [{ email: 'a@b.co', many: ['z'] }, 'many'],
      [{ email: 'a@b.co', unknown: 1 }, 'unknown'],
    ];
    for (const [data, field] of problems) {
      const checked = checkFormData(FORM, data);
      expect([data, 'problem' in checked && checked.problem.field]).toEqual([data, field]);
    }
    // The same schema (an equal copy, as a record read back from Redis) is not compiled again.
    checkFormData(JSON.parse(JSON.stringify(FORM)) as FormSchema, { email: 'a@b.co' });
    expect(formCompilations()).toBe(before);
  });
});
