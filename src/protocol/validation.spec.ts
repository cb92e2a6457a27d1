import { describe, expect, it } from '@jest/globals';
import type { ArgumentMetadata, Paramtype } from '@nestjs/common';
import { WsParamtype } from '@nestjs/websockets/enums/ws-paramtype.enum.js';
import { NotifyRequestDto } from '../notify/dto/notify-request.dto.js';
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
