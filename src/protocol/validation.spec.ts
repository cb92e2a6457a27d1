import { describe, expect, it } from '@jest/globals';
import { nestsDeeperThan } from './validation.js';

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
