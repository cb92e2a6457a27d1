import { describe, expect, it } from '@jest/globals';
import { randomUuid } from './random-uuid.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('randomUuid', () => {
  it('makes version 4 UUIDs, none repeated, across several refills', () => {
    const ids = Array.from({ length: 2000 }, () => randomUuid());
    expect(ids.every((id) => UUID_V4.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('uses every hex digit in every free position (the bytes are random, not a pattern)', () => {
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 4000; i++) [...randomUuid()].forEach((char, position) => seen[position].add(char));
    const free = [...Array(36).keys()].filter((position) => ![8, 13, 14, 18, 19, 23].includes(position));
    expect(free.every((position) => seen[position].size === 16)).toBe(true);
    expect([...seen[14]]).toEqual(['4']);
    expect([...seen[19]].sort()).toEqual(['8', '9', 'a', 'b']);
  });

  it('hands out independent strings (a later refill does not change an earlier id)', () => {
    const first = randomUuid();
    const copy = `${first}`;
    for (let i = 0; i < 600; i++) randomUuid();
    expect(first).toBe(copy);
  });
});
