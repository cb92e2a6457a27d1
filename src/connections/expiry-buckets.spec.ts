import { describe, expect, it } from '@jest/globals';
import { ExpiryBuckets } from './expiry-buckets.js';

describe('ExpiryBuckets', () => {
  const start = 1_000_000;

  it('never hands out an item before its time', () => {
    const buckets = new ExpiryBuckets<string>(start);
    buckets.add('a', start + 2500);
    expect(buckets.takeDue(start + 1000)).toEqual([]);
    expect(buckets.takeDue(start + 2499)).toEqual([]);
    expect(buckets.takeDue(start + 3000)).toEqual(['a']);
    expect(buckets.takeDue(start + 4000)).toEqual([]);
  });

  it('hands out an item due on a whole second at that second', () => {
    const buckets = new ExpiryBuckets<string>(start);
    buckets.add('a', start + 2000);
    expect(buckets.takeDue(start + 1999)).toEqual([]);
    expect(buckets.takeDue(start + 2000)).toEqual(['a']);
  });

  it('catches up on every second a late tick skipped', () => {
    const buckets = new ExpiryBuckets<string>(start);
    buckets.add('a', start + 1000);
    buckets.add('b', start + 5000);
    buckets.add('c', start + 9000);
    expect(buckets.takeDue(start + 6000).sort()).toEqual(['a', 'b']);
    expect(buckets.takeDue(start + 9000)).toEqual(['c']);
  });

  it('gives an item added after its time to the next tick', () => {
    const buckets = new ExpiryBuckets<string>(start);
    expect(buckets.takeDue(start + 5000)).toEqual([]);
    buckets.add('late', start + 2000);
    expect(buckets.takeDue(start + 5000)).toEqual([]);
    expect(buckets.takeDue(start + 6000)).toEqual(['late']);
  });

  it('forgets deleted items, including ones moved to a later tick', () => {
    const buckets = new ExpiryBuckets<string>(start);
    buckets.add('kept', start + 3000);
    buckets.add('gone', start + 3000);
    buckets.takeDue(start + 2000);
    buckets.add('late-gone', start + 1000);
    buckets.delete('gone', start + 3000);
    buckets.delete('late-gone', start + 1000);
    buckets.delete('never-added', start + 3000);
    expect(buckets.takeDue(start + 10_000)).toEqual(['kept']);
  });
});
