import { randomFillSync } from 'node:crypto';

/** UUIDs made per refill of the random bytes. */
const BATCH = 256;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const DASH = 0x2d;
const randomBytes = Buffer.alloc(16 * BATCH);
const uuidText = Buffer.alloc(36 * BATCH);
let next = BATCH;

/**
 * A random (version 4) UUID, what `crypto.randomUUID()` answers and from the same CSPRNG,
 * made for ids minted on every request (request ids, callback ids, audit event ids, message
 * ids). `crypto.randomUUID()` builds its string from per-byte pieces and leaves about half a
 * kilobyte of garbage per id on Node 20 and 24; this one writes a batch of UUIDs as text at
 * once and cuts each out as a single string.
 */
export function randomUuid(): string {
  if (next === BATCH) refill();
  const start = 36 * next++;
  return uuidText.toString('latin1', start, start + 36);
}

function refill(): void {
  randomFillSync(randomBytes);
  for (let uuid = 0; uuid < BATCH; uuid++) {
    const bytes = 16 * uuid;
    randomBytes[bytes + 6] = (randomBytes[bytes + 6] & 0x0f) | 0x40; // version 4
    randomBytes[bytes + 8] = (randomBytes[bytes + 8] & 0x3f) | 0x80; // RFC 9562 variant
    let at = 36 * uuid;
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) uuidText[at++] = DASH;
      const byte = randomBytes[bytes + i];
      uuidText[at++] = HEX_DIGITS[byte >> 4];
      uuidText[at++] = HEX_DIGITS[byte & 0x0f];
    }
  }
  next = 0;
}
