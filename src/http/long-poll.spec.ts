import { describe, expect, it, jest } from '@jest/globals';
import { EventEmitter } from 'node:events';
import type { FastifyReply } from 'fastify';
import { stopWhenCallerLeaves } from './long-poll.js';

function fakeReply(writableFinished: boolean, destroyed = false) {
  const raw = Object.assign(new EventEmitter(), { writableFinished, destroyed });
  return { raw, reply: { raw } as unknown as FastifyReply };
}

describe('stopWhenCallerLeaves', () => {
  it('stops the wait when the caller goes away before its answer', () => {
    const { raw, reply } = fakeReply(false);
    const stop = jest.fn();
    stopWhenCallerLeaves(reply)(stop);
    expect(stop).not.toHaveBeenCalled();
    raw.emit('close');
    expect(stop).toHaveBeenCalledTimes(1);
  });

  it('stops at once when the caller is already gone', () => {
    const { reply } = fakeReply(false, true);
    const stop = jest.fn();
    stopWhenCallerLeaves(reply)(stop);
    expect(stop).toHaveBeenCalledTimes(1);
  });

  it('does nothing when the connection closes after the answer went out', () => {
    const { raw, reply } = fakeReply(true);
    const stop = jest.fn();
    stopWhenCallerLeaves(reply)(stop);
    raw.emit('close');
    expect(stop).not.toHaveBeenCalled();
  });
});
