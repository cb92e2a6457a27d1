import { describe, expect, it } from '@jest/globals';
import { SetIndex } from './set-index.js';

describe('SetIndex', () => {
  it('groups values by key and forgets a key whose set empties', () => {
    const index = new SetIndex<number>();
    index.add('a', 1);
    index.add('a', 2);
    index.add('b', 3);
    expect([...index.get('a')]).toEqual([1, 2]);
    expect(index.get('b').size).toBe(1);
    index.delete('a', 1);
    index.delete('a', 2);
    expect([...index.keys()]).toEqual(['b']);
    expect(index.get('a').size).toBe(0);
  });

  it('ignores deletes of absent keys and values', () => {
    const index = new SetIndex<string>();
    index.delete('x', 'y');
    index.add('x', 'y');
    index.delete('x', 'z');
    expect([...index.get('x')]).toEqual(['y']);
  });
});
