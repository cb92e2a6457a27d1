import { describe, expect, it } from '@jest/globals';
import { StringInterner } from './string-interner.js';

/** A string equal to `value` but built at run time, as JSON.parse builds each request's. */
const copyOf = (value: string) => JSON.parse(JSON.stringify({ v: value })).v as string;

describe('StringInterner', () => {
  it('returns the first string it was given for every equal one', () => {
    const interner = new StringInterner(10);
    const first = copyOf('user-1');
    expect(interner.intern(first)).toBe(first);
    expect(interner.intern(copyOf('user-1'))).toBe(first);
    expect(interner.intern('user-2')).toBe('user-2');
    expect(interner.size).toBe(2);
  });

  it('never holds more than its capacity', () => {
    const interner = new StringInterner(3);
    for (let i = 0; i < 100; i++) expect(interner.intern(`id-${i}`)).toBe(`id-${i}`);
    expect(interner.size).toBeLessThanOrEqual(3);
  });
});
