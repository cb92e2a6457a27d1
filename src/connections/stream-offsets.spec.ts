import { describe, expect, it } from '@jest/globals';
import { StreamOffsets } from './stream-offsets.js';

describe('StreamOffsets', () => {
  it('keeps one offset per stream, replaced by a later set', () => {
    const offsets = new StreamOffsets().set('u', 3).set('b', 0);
    expect([offsets.get('u'), offsets.get('b'), offsets.get('t:x'), offsets.size]).toEqual([3, 0, undefined, 2]);
    offsets.set('u', 9);
    expect([offsets.get('u'), offsets.size]).toEqual([9, 2]);
  });

  it('forgets a deleted stream and leaves the others', () => {
    const offsets = new StreamOffsets().set('u', 1).set('b', 2).set('t:x', 3);
    expect(offsets.delete('b')).toBe(true);
    expect(offsets.delete('b')).toBe(false);
    expect([offsets.get('u'), offsets.get('b'), offsets.get('t:x'), offsets.size]).toEqual([1, undefined, 3, 2]);
  });
});
