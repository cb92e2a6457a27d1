import { describe, expect, it } from '@jest/globals';
import { PreparedFrame } from './prepared-frame.js';

describe('PreparedFrame', () => {
  it.each([
    [10, 2],
    [300, 4],
    [70_000, 10],
  ])('frames a %i-byte text message as one unmasked final text frame', (size, headerLength) => {
    const payload = 'x'.repeat(size);
    const frame = new PreparedFrame(payload);
    expect(frame.bytes[0]).toBe(0x81); // FIN + text opcode
    expect(frame.bytes[1] & 0x80).toBe(0); // not masked
    expect(frame.bytes.length).toBe(size + headerLength);
    expect(frame.bytes.subarray(headerLength).toString()).toBe(payload);
  });

  it('encodes multi-byte characters by their UTF-8 length', () => {
    const frame = new PreparedFrame('同意继续');
    expect(frame.bytes[1]).toBe(12);
  });
});
