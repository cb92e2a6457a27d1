import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * An action link's token: a capability that lets one approver make one choice on one
 * confirmation until it expires. `<payload>.<mac>`, both base64url: the payload is the JSON
 * array `[1, callback_id, approver, choice, expires (epoch s), nonce]`, the mac its
 * HMAC-SHA256 under the first of the signing secrets. Any of the secrets verifies, so a
 * secret can be rotated: put the new one first, keep the old one until its links expired.
 *
 * Nothing in a token is secret (it is signed, not encrypted); what it names it names to
 * whoever holds it, who may act on it anyway.
 */
export interface LinkClaims {
  callbackId: string;
  /** The user the link answers as. */
  approver: string;
  /** `proceed` or `reject` when the prompt has no options; else an option id. */
  choice: string;
  /** When the link stops working, in epoch seconds. */
  expiresAt: number;
  /** The confirmation's link nonce (its LinkGrant's). */
  nonce: string;
}

const VERSION = 1;
const MAC_BYTES = 32;
/** base64url of MAC_BYTES. */
const MAC_LENGTH = 43;
/**
 * The longest token verified at all: anything longer is refused before any hashing, so an
 * unauthenticated caller cannot make the server hash much. (Fastify's path parameters stop
 * at 1024 characters anyway.)
 */
export const MAX_TOKEN_LENGTH = 1000;
/** At most this many secrets are tried per token. */
export const MAX_SIGNING_SECRETS = 8;

export type Verification = { ok: true; claims: LinkClaims } | { ok: false; reason: 'invalid' | 'expired' };

export class LinkSigner {
  private readonly keys: Buffer[];

  /** `secrets`: the first signs; every one verifies. */
  constructor(secrets: ReadonlyArray<string | Buffer>) {
    if (secrets.length === 0) throw new Error('LinkSigner needs at least one secret');
    if (secrets.length > MAX_SIGNING_SECRETS) throw new Error(`LinkSigner takes at most ${MAX_SIGNING_SECRETS} secrets`);
    this.keys = secrets.map((secret) => (typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret));
  }

  /** A signer with one random secret, for development (its links die with the process). */
  static ephemeral(): LinkSigner {
    return new LinkSigner([randomBytes(32)]);
  }

  sign(claims: LinkClaims): string {
    const payload = Buffer.from(
      JSON.stringify([VERSION, claims.callbackId, claims.approver, claims.choice, claims.expiresAt, claims.nonce]),
      'utf8',
    ).toString('base64url');
    return `${payload}.${mac(this.keys[0], payload).toString('base64url')}`;
  }

  /**
   * Checks the signature (in constant time, against every secret) before anything in the
   * token is parsed; then its expiry against `nowMs`. A failure says only `invalid` (of
   * whatever kind) or `expired` (only for a genuine token).
   */
  verify(token: string, nowMs = Date.now()): Verification {
    const dot = token.length <= MAX_TOKEN_LENGTH ? token.indexOf('.') : -1;
    if (dot <= 0 || token.length - dot - 1 !== MAC_LENGTH) return INVALID;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    // A string that is not base64url decodes to fewer bytes (or to other text): refused below.
    if (given.length !== MAC_BYTES || given.toString('base64url') !== token.slice(dot + 1)) return INVALID;
    let genuine = false;
    // Every secret is tried, whatever matched: the time taken tells nothing about which.
    for (const key of this.keys) genuine = timingSafeEqual(mac(key, payload), given) || genuine;
    if (!genuine) return INVALID;
    const claims = parseClaims(payload);
    if (!claims) return INVALID;
    if (claims.expiresAt * 1000 <= nowMs) return { ok: false, reason: 'expired' };
    return { ok: true, claims };
  }
}

const INVALID: Verification = { ok: false, reason: 'invalid' };

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

function parseClaims(payload: string): LinkClaims | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 6 || parsed[0] !== VERSION) return undefined;
  const [, callbackId, approver, choice, expiresAt, nonce] = parsed as unknown[];
  if (typeof callbackId !== 'string' || typeof approver !== 'string' || typeof choice !== 'string' || typeof nonce !== 'string') return undefined;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined;
  return { callbackId, approver, choice, expiresAt, nonce };
}

/** A fresh nonce for a confirmation's links: 128 random bits, base64url. */
export function newLinkNonce(): string {
  return randomBytes(16).toString('base64url');
}
