import { describe, expect, it } from '@jest/globals';
import { FifoQueue } from './fifo-queue.js';

describe('FifoQueue', () => {
  it('hands items out in the order they came in', () => {
    const queue = new FifoQueue<number>();
    for (let i = 0; i < 5; i++) queue.push(i);
    expect(queue.size).toBe(5);
    expect(queue.peek()).toBe(0);
    expect([queue.shift(), queue.shift()]).toEqual([0, 1]);
    queue.push(5);
    const rest: number[] = [];
    while (queue.size > 0) rest.push(queue.shift() as number);
    expect(rest).toEqual([2, 3, 4, 5]);
  });

  it('is empty-safe', () => {
    const queue = new FifoQueue<string>();
    expect(queue.peek()).toBeUndefined();
    expect(queue.shift()).toBeUndefined();
    expect(queue.size).toBe(0);
  });

  it('keeps order through many rounds of churn', () => {
    const queue = new FifoQueue<number>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 1000; round++) {
      for (let i = 0; i < 7; i++) queue.push(next++);
      for (let i = 0; i < 5; i++) expect(queue.shift()).toBe(expected++);
    }
    expect(queue.size).toBe(next - expected);
    expect(queue.peek()).toBe(expected);
  });
});
