import { describe, expect, it } from '@jest/globals';
import { compositeKey } from './composite-key.js';

describe('compositeKey', () => {
  it('keeps apart tuples that a bare separator would join into one key', () => {
    expect(compositeKey('carol\nprod', 'X')).not.toBe(compositeKey('carol', 'prod\nX'));
    expect(compositeKey('a', 'b')).not.toBe(compositeKey('a,b'));
    expect(compositeKey('a","b')).not.toBe(compositeKey('a', 'b'));
    expect(compositeKey('a\\', 'b')).not.toBe(compositeKey('a', '\\b'));
  });

  it('gives two different tuples two different keys, over every split of hostile strings', () => {
    const pieces = ['', 'a', '\n', '\u0000', ',', '"', '\\', '","', '\\"', '[', ']', ':', '\u2028', '😀', '\ud83d'];
    const tuples: string[][] = [];
    for (const a of pieces) for (const b of pieces) for (const c of pieces) tuples.push([a + b, c], [a, b + c], [a, b, c], [a + b + c]);
    const owners = new Map<string, string>();
    for (const tuple of tuples) {
      const key = compositeKey(...tuple);
      const same = JSON.stringify(tuple);
      const owner = owners.get(key);
      if (owner !== undefined) expect(owner).toBe(same);
      owners.set(key, same);
    }
    expect(owners.size).toBeGreaterThan(1000);
  });

  it('gives the same tuple the same key', () => {
    expect(compositeKey('alice', 'task-1')).toBe(compositeKey('alice', 'task-1'));
  });
});
