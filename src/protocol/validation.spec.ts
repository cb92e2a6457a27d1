import { describe, expect, it } from '@jest/globals';
import type { ArgumentMetadata, Paramtype } from '@nestjs/common';
import { WsParamtype } from '@nestjs/websockets/enums/ws-paramtype.enum.js';
import { NotifyRequestDto } from '../notify/dto/notify-request.dto.js';
import { ConfirmFrame } from './client-frames.js';
import { MAX_INPUT_DEPTH, nestsDeeperThan, validationPipe } from './validation.js';

/** An object `levels` deep: { a: { a: ... { a: 1 } } }, or arrays when asked. */
function nested(levels: number, asArrays = false): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = asArrays ? [value] : { a: value };
  return value;
}

describe('nestsDeeperThan', () => {
  it.each([
    [0, 1, false],
    [1, 1, false],
    [2, 1, true],
    [32, 32, false],
    [33, 32, true],
  ])('%i levels against a limit of %i: %s', (levels, limit, expected) => {
    expect(nestsDeeperThan(nested(levels), limit)).toBe(expected);
    expect(nestsDeeperThan(nested(levels, true), limit)).toBe(expected);
  });

  it('finds the deep branch among shallow siblings', () => {
    expect(nestsDeeperThan({ flat: 1, list: [1, 2, { deep: nested(4) }] }, 4)).toBe(true);
    expect(nestsDeeperThan({ flat: 1, list: [1, 2, { deep: nested(1) }] }, 4)).toBe(false);
  });

  it('stops at the limit, however deep the input goes', () => {
    expect(nestsDeeperThan(nested(100_000), 32)).toBe(true);
  });

  it('ignores inherited properties', () => {
    const child = Object.create({ inherited: nested(10) }) as object;
    expect(nestsDeeperThan(child, 2)).toBe(false);
  });
});

describe('validationPipe depth limit', () => {
  const deep = nested(100_000);
  const tooDeep = { code: 'invalid_message', message: 'Input nests deeper than 32 levels' };

  it.each([
    ['a plain-object body (POST /broadcast)', { type: 'body', metatype: Object }],
    ['an untyped body', { type: 'body', metatype: undefined }],
    ['a ping frame', { type: WsParamtype.PAYLOAD as unknown as Paramtype, metatype: Object }],
    ['a DTO body', { type: 'body', metatype: NotifyRequestDto }],
  ] as Array<[string, ArgumentMetadata]>)('refuses %s nested past the limit', (_name, metadata) => {
    expect(() => validationPipe.transform({ a: deep }, metadata)).toThrow(expect.objectContaining(tooDeep));
    expect(() => validationPipe.transform({ a: nested(MAX_INPUT_DEPTH, true) }, metadata)).toThrow(expect.objectContaining(tooDeep));
  });

  it('passes a plain object at the limit through as it is', () => {
    const value = nested(MAX_INPUT_DEPTH);
    expect(validationPipe.transform(value, { type: 'body', metatype: Object })).toBe(value);
  });

  it('leaves the socket itself alone (it is no input)', () => {
    const socket = { self: nested(100) };
    expect(validationPipe.transform(socket, { type: WsParamtype.SOCKET as unknown as Paramtype, metatype: Object })).toBe(socket);
  });
});

describe('validation messages', () => {
  const stepResult = { step: 's', message: 'm', status: 'ok' };
  const body = { user_id: 'u', task_id: 't', step: 1, step_result: stepResult };

  async function messageOf(dto: Function, value: unknown): Promise<string> {
    try {
      await validationPipe.transform(value, { type: 'body', metatype: dto as ArgumentMetadata['metatype'] });
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('accepted');
  }

  it.each([
    ['a missing user_id', { ...body, user_id: undefined }, 'user_id is required'],
    ['a missing step_result.step', { ...body, step_result: { message: 'm', status: 'ok' } }, 'step_result.step is required'],
    ['a missing step_result', { ...body, step_result: undefined }, 'step_result is required'],
    ['an empty body', {}, 'user_id is required; task_id is required; step is required; step_result is required'],
    [
      'missing fields before wrong ones',
      { task_id: 5, step: 'three', step_result: { step: 's', message: 7 } },
      'user_id is required; step_result.status is required; task_id must be a string; step must be an integer number; step_result.message must be a string',
    ],
    ['a null step_result', { ...body, step_result: null }, 'step_result must be an object'],
    ['an empty user_id', { ...body, user_id: '' }, 'user_id must be 1 to 256 characters long'],
    ['a numeric user_id (its type only)', { ...body, user_id: 5 }, 'user_id must be a string'],
    ['a user_id with a newline', { ...body, user_id: 'carol\nprod' }, 'user_id must not contain control characters'],
    ['a step below 0', { ...body, step: -1 }, 'step must not be less than 0'],
  ])('%s', async (_name, value, message) => {
    expect(await messageOf(NotifyRequestDto, value)).toBe(message);
  });

  it('says the same of socket frames', async () => {
    expect(await messageOf(ConfirmFrame, { action: 'confirm', proceed: true })).toBe('callback_id is required');
    expect(await messageOf(ConfirmFrame, { action: 'confirm', callback_id: 'x', proceed: 'yes', feedback: 5 })).toBe(
      'proceed must be a boolean value; feedback must be a string',
    );
  });
});
