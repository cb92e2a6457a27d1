import { HandshakeLoad, MAX_RETRY_AFTER_MS, MIN_RETRY_AFTER_MS } from './handshake-load.js';

describe('HandshakeLoad', () => {
  let now: number;
  let load: HandshakeLoad;

  beforeEach(() => {
    now = 1_000_000;
    load = new HandshakeLoad(() => now);
  });

  /** Handshakes that each took `ms`. */
  function took(ms: number, count = 1): void {
    for (let i = 0; i < count; i++) load.finished(now - ms);
  }

  it('asks for the shortest wait when handshakes are quick', () => {
    took(5, 20);
    // 2 in flight + 1 refused at 5 ms each, 2 at a time: 8 ms.
    expect(load.refused(2, 2)).toBe(MIN_RETRY_AFTER_MS);
  });

  it('asks for the time the instance needs for those in flight and those it refused', () => {
    took(500, 50);
    // 200 in flight; then 399 refused in this second: the 400th waits (200 + 400) x 500 ms / 200.
    for (let i = 0; i < 399; i++) load.refused(200, 200);
    expect(load.refused(200, 200)).toBe(1_500);
  });

  it('keeps counting the refusals of the second before', () => {
    took(1_000, 10);
    for (let i = 0; i < 600; i++) load.refused(100, 100);
    now += 1_000;
    // 100 in flight + 600 refused before + 1 now, at 1 s each, 100 at a time: 7.01 s.
    expect(load.refused(100, 100)).toBe(7_100);
  });

  it('forgets refusals more than two seconds old', () => {
    took(1_000, 10);
    for (let i = 0; i < 600; i++) load.refused(100, 100);
    now += 2_500;
    expect(load.refused(100, 100)).toBe(1_100);
  });

  it('caps the wait', () => {
    took(10_000, 10);
    expect(load.refused(200, 10)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('follows the handshakes as they get slower', () => {
    took(100, 10);
    took(2_000, 30);
    // The mean moved most of the way to 2 s (1.92 s): 10 waiting, 10 at a time.
    expect(load.refused(9, 10)).toBe(2_000);
  });
});
