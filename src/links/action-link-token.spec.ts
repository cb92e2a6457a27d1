import { describe, expect, it } from '@jest/globals';
import { LinkClaims, LinkSigner, MAX_TOKEN_LENGTH, newLinkNonce } from './action-link-token.js';

const SECRET = 'a-signing-secret-of-at-least-32-characters';
const OLD_SECRET = 'the-previous-signing-secret-32-chars-long!';
const NOW = Date.UTC(2026, 0, 1);

function claims(over: Partial<LinkClaims> = {}): LinkClaims {
  return { callbackId: 'cb-1', approver: 'alice', choice: 'proceed', expiresAt: NOW / 1000 + 60, nonce: newLinkNonce(), ...over };
}

/** The token with one character of the given part changed to another base64url character. */
function flip(token: string, index: number): string {
  const c = token[index];
  return token.slice(0, index) + (c === 'A' ? 'B' : 'A') + token.slice(index + 1);
}

describe('LinkSigner', () => {
  it('signs a compact base64url token that verifies to what it names', () => {
    const signer = new LinkSigner([SECRET]);
    const named = claims({ approver: 'bob ünïcode', callbackId: 'job-1.step:2' });
    const token = signer.sign(named);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(signer.verify(token, NOW)).toEqual({ ok: true, claims: named });
  });

  it('gives each confirmation its own nonce, so otherwise equal links differ', () => {
    const signer = new LinkSigner([SECRET]);
    const a = newLinkNonce();
    const b = newLinkNonce();
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a).not.toBe(b);
    expect(signer.sign(claims({ nonce: a }))).not.toBe(signer.sign(claims({ nonce: b })));
  });

  it('refuses an expired token as expired, at its expiry second', () => {
    const signer = new LinkSigner([SECRET]);
    const token = signer.sign(claims({ expiresAt: NOW / 1000 + 10 }));
    expect(signer.verify(token, NOW + 9_999).ok).toBe(true);
    expect(signer.verify(token, NOW + 10_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses any change to the payload or the mac as invalid, saying nothing more', () => {
    const signer = new LinkSigner([SECRET]);
    const token = signer.sign(claims());
    const dot = token.indexOf('.');
    for (const index of [0, 5, dot - 1, dot + 1, token.length - 2]) {
      expect(signer.verify(flip(token, index), NOW)).toEqual({ ok: false, reason: 'invalid' });
    }
    // Another choice with the original mac.
    const other = signer.sign(claims({ choice: 'reject' }));
    expect(signer.verify(other.slice(0, other.indexOf('.')) + token.slice(dot), NOW)).toEqual({ ok: false, reason: 'invalid' });
    // A token whose expiry was pushed back is invalid, not expired: tampering tells nothing.
    const expired = signer.sign(claims({ expiresAt: NOW / 1000 - 1 }));
    const forged = Buffer.from(JSON.stringify([1, 'cb-1', 'alice', 'proceed', NOW / 1000 + 999, 'x'])).toString('base64url');
    expect(signer.verify(forged + expired.slice(expired.indexOf('.')), NOW)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses malformed tokens before hashing them', () => {
    const signer = new LinkSigner([SECRET]);
    const token = signer.sign(claims());
    for (const bad of ['', '.', 'abc', `.${token.split('.')[1]}`, `${token}x`, `${token}.x`, token.replace('.', '!'), `${token.split('.')[0]}.${'=' .repeat(43)}`, 'a'.repeat(MAX_TOKEN_LENGTH + 1)]) {
      expect(signer.verify(bad, NOW)).toEqual({ ok: false, reason: 'invalid' });
    }
  });

  it('refuses a token signed with a secret it does not hold, and a genuine mac over a payload that is not a link', () => {
    const mine = new LinkSigner([SECRET]);
    const theirs = new LinkSigner(['someone-else-s-secret-of-32-characters!!']);
    expect(mine.verify(theirs.sign(claims()), NOW)).toEqual({ ok: false, reason: 'invalid' });
    expect(mine.verify(LinkSigner.ephemeral().sign(claims()), NOW)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('rotates: the first secret signs, every secret verifies, a dropped secret no longer does', () => {
    const before = new LinkSigner([OLD_SECRET]);
    const during = new LinkSigner([SECRET, OLD_SECRET]);
    const after = new LinkSigner([SECRET]);
    const oldToken = before.sign(claims());
    const newToken = during.sign(claims());
    expect(during.verify(oldToken, NOW).ok).toBe(true);
    expect(during.verify(newToken, NOW).ok).toBe(true);
    expect(after.verify(newToken, NOW).ok).toBe(true);
    expect(after.verify(oldToken, NOW)).toEqual({ ok: false, reason: 'invalid' });
    expect(before.verify(newToken, NOW)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('takes one to eight secrets', () => {
    expect(() => new LinkSigner([])).toThrow();
    expect(() => new LinkSigner(Array.from({ length: 9 }, (_, i) => `${SECRET}${i}`))).toThrow();
  });
});
