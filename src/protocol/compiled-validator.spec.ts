import { describe, expect, it } from '@jest/globals';
import { IsEmail, IsInt, IsOptional, IsString, Min, MinLength } from 'class-validator';
import { NotifyRequestDto, StepResultDto } from '../notify/dto/notify-request.dto.js';
import { ConfirmFrame } from './client-frames.js';
import { NOT_SURE, validateCompiled } from './compiled-validator.js';
import { schemaOf } from './dto-schema.js';
import { ID_CHARACTERS_PATTERN } from './id.js';

class WithEmail {
  @IsEmail()
  email: string;
}

class TwoChars {
  @IsString()
  @MinLength(2)
  name: string;
}

class MinBeforeInt {
  @Min(0)
  @IsInt()
  n: number;

  @IsOptional()
  @Min(1)
  m?: number;
}

const ref = (dto: Function) => `#/components/schemas/${dto.name}`;

describe('schemaOf', () => {
  it('derives the notify body from its decorators', () => {
    const schema = schemaOf(NotifyRequestDto, { ref }) as any;
    expect(schema.required).toEqual(['user_id', 'task_id', 'step', 'step_result']);
    expect(schema.properties.user_id).toEqual({ type: 'string', minLength: 1, maxLength: 256, pattern: ID_CHARACTERS_PATTERN });
    expect(schema.properties.step).toEqual({ type: 'integer', minimum: 0 });
    expect(schema.properties.step_result).toEqual({ type: 'object', allOf: [{ $ref: '#/components/schemas/StepResultDto' }] });
    // OptionalField: missing is fine, null is validated (and refused).
    expect(schema.properties.timeout_seconds).toEqual({ type: 'number', minimum: 0.05 });
    // IsOptional: class-validator skips null, so the schema takes it.
    expect(schema.properties.callback_id.anyOf[1]).toEqual({ type: 'null' });
    expect(schema.properties.callback_id.anyOf[0].allOf.map((part: any) => part.pattern)).toEqual(['^[A-Za-z0-9._:-]+$', ID_CHARACTERS_PATTERN]);
    expect((schemaOf(StepResultDto, { ref }) as any).properties.result).toEqual({});
  });

  it('keeps integer whichever order Min and IsInt come in, and Min alone a number', () => {
    const schema = schemaOf(MinBeforeInt, { ref }) as any;
    expect(schema.properties.n).toEqual({ type: 'integer', minimum: 0 });
    expect(schema.properties.m.anyOf[0]).toEqual({ type: 'number', minimum: 1 });
  });

  it('gives no schema for a rule it cannot express exactly', () => {
    expect(schemaOf(WithEmail, { ref })).toBeNull();
  });
});

describe('validateCompiled', () => {
  it('accepts the design document bodies and answers itself, Chinese punctuation included', () => {
    const body = {
      user_id: 'user_123', task_id: 'task_789', step: 2,
      step_result: { step: 'model_training', result: null, completed: false, message: '模型训练失败，是否重试？', status: 'failed', error_code: 'E003', error_message: 'GPU 内存不足' },
    };
    const notify = validateCompiled(NotifyRequestDto, { ...body, unknown: 1 });
    expect(notify).toBeInstanceOf(NotifyRequestDto);
    expect((notify as NotifyRequestDto).step_result).toBeInstanceOf(StepResultDto);
    expect(JSON.parse(JSON.stringify(notify))).toEqual(body);
    const answer = validateCompiled(ConfirmFrame, { action: 'confirm', callback_id: 'callback_123', proceed: true, feedback: '同意继续执行，谢谢！' });
    expect(answer).toEqual(Object.assign(new ConfirmFrame(), { callback_id: 'callback_123', proceed: true, feedback: '同意继续执行，谢谢！' }));
  });

  it('takes `links` on the compiled path (true, false, { expires_in_seconds }) and leaves anything else to class-validator', () => {
    const body = { user_id: 'u', task_id: 't', step: 1, step_result: { step: 's', message: 'm', status: 's' } };
    expect((schemaOf(NotifyRequestDto, { ref }) as any).properties.links.anyOf[0].anyOf[0]).toEqual({ type: 'boolean' });
    for (const links of [true, false, {}, { expires_in_seconds: 60 }]) {
      expect(JSON.parse(JSON.stringify(validateCompiled(NotifyRequestDto, { ...body, links })))).toEqual({ ...body, links });
    }
    for (const links of ['yes', [], { expires_in_seconds: 0 }, { expires_in_seconds: 60, x: 1 }]) {
      expect(validateCompiled(NotifyRequestDto, { ...body, links })).toBe(NOT_SURE);
    }
  });

  it('leaves anything doubtful to class-validator', () => {
    expect(validateCompiled(WithEmail, { email: 'a@b.example' })).toBe(NOT_SURE);
    expect(validateCompiled(ConfirmFrame, { callback_id: 7 })).toBe(NOT_SURE);
    expect(validateCompiled(NotifyRequestDto, { user_id: 'u', task_id: 't', step: 1.5, step_result: { step: 's', message: 'm', status: 's' } })).toBe(NOT_SURE);
  });

  it('refuses ids with control characters and takes other invisible characters', () => {
    const body = { user_id: 'u', task_id: 't', step: 1, step_result: { step: 's', message: 'm', status: 's' } };
    for (const id of ['a\nb', 'a\u0000', '\t', 'a\u007f', 'a\u0085', 'a\u009f', 'a\u2028', 'a\u2029']) {
      expect(validateCompiled(NotifyRequestDto, { ...body, user_id: id })).toBe(NOT_SURE);
      expect(validateCompiled(ConfirmFrame, { callback_id: id })).toBe(NOT_SURE);
    }
    for (const id of ['👩\u200d💻', 'a\u200cb', '\u202eabc', 'x\ufe0f', 'a\u00a0b']) {
      expect(validateCompiled(NotifyRequestDto, { ...body, user_id: id })).not.toBe(NOT_SURE);
    }
  });

  it('counts lengths as class-validator does: a variation selector is no character of its own', () => {
    expect(validateCompiled(TwoChars, { name: 'ab' })).not.toBe(NOT_SURE);
    expect(validateCompiled(TwoChars, { name: '😀😀' })).not.toBe(NOT_SURE);
    expect(validateCompiled(TwoChars, { name: 'a\ufe0f' })).toBe(NOT_SURE);
    expect(validateCompiled(TwoChars, { name: '😀' })).toBe(NOT_SURE);
  });
});
