import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { Confirmation } from './confirmation.js';
import { ConfirmationEvent, ConfirmationEvents } from './confirmation-events.js';

const confirmation = { callbackId: 'cb-1' } as Confirmation;

describe('ConfirmationEvents', () => {
  // A failing listener is logged, not thrown: the log is checked here, and kept out of the test output.
  const warned = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  afterEach(() => void warned.mockClear());
  afterAll(() => warned.mockRestore());

  it('tells a listener of some types only those, and says which types are heard', async () => {
    const events = new ConfirmationEvents();
    expect([events.hears('created'), events.hears('settled')]).toEqual([false, false]);
    const heard: string[] = [];
    events.on((event) => void heard.push(event.type), ['settled', 'reminder']);
    expect([events.hears('created'), events.hears('settled'), events.hears('reminder')]).toEqual([false, true, true]);
    await events.emit({ type: 'created', confirmation, at: 1 });
    await events.emit({ type: 'settled', confirmation, at: 2 });
    await events.emit({ type: 'reminder', confirmation, at: 3, reminder: 1, instanceId: 'i1', connections: 1 });
    expect(heard).toEqual(['settled', 'reminder']);
  });

  it('tells every event to a listener of all, after which every type is heard; a failing listener does not stop the others', async () => {
    const events = new ConfirmationEvents();
    const all: ConfirmationEvent[] = [];
    events.on(() => {
      throw new Error('broken listener');
    }, ['escalated']);
    events.on((event) => void all.push(event));
    expect(events.hears('delivered')).toBe(true);
    await events.emit({ type: 'escalated', confirmation, at: 1, step: 0, users: ['bob'], groups: [], instanceId: 'i1' });
    expect(all.map((e) => e.type)).toEqual(['escalated']);
    expect(warned).toHaveBeenCalledWith('A escalated listener failed for cb-1: broken listener');
  });

  it('calls synchronous listeners at once and returns nothing to wait for', () => {
    const events = new ConfirmationEvents();
    const heard: string[] = [];
    events.on((event) => void heard.push(event.type));
    expect(events.emit({ type: 'created', confirmation, at: 1 })).toBeUndefined();
    expect(heard).toEqual(['created']);
  });

  it('waits for a listener that returns a promise; its rejection is logged, not passed on', async () => {
    const events = new ConfirmationEvents();
    let stored = false;
    events.on(() => new Promise<void>((resolve) => setTimeout(() => resolve(void (stored = true)), 20)), ['settled']);
    events.on(() => Promise.reject(new Error('receiver away')), ['settled']);
    const told = events.emit({ type: 'settled', confirmation, at: 1 });
    expect(told).toBeInstanceOf(Promise);
    await expect(told).resolves.toBeUndefined();
    expect(stored).toBe(true);
    expect(warned).toHaveBeenCalledWith('A settled listener failed for cb-1: receiver away');
  });
});
