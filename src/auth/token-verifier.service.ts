import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createRemoteJWKSet, JWTPayload, jwtVerify, JWTVerifyGetKey } from 'jose';
import { createPublicKey, KeyObject } from 'node:crypto';
import type { Environment } from '../config/environment.js';
import { idProblem } from '../protocol/id.js';
import { groupsOf } from '../approvals/groups.js';

export interface VerifiedToken {
  userId: string;
  /** The groups claim (AUTH_GROUPS_CLAIM): its string entries that are valid ids, at most MAX_CONNECTION_GROUPS. */
  groups: string[];
  /** Epoch milliseconds of `exp`, or null when the token does not expire. */
  expiresAt: number | null;
}

export class InvalidToken extends Error {}

/** Verifies user tokens (HS256 secret, or RS256/ES256 by PEM key or JWKS) with `jose`. */
@Injectable()
export class TokenVerifier {
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey | null;
  private readonly algorithms: string[];
  private readonly audience?: string;
  private readonly issuer?: string;
  private readonly groupsClaim: string;

  constructor(config: ConfigService<Environment, true>) {
    const secret = config.get('JWT_SECRET', { infer: true });
    const pem = config.get('JWT_PUBLIC_KEY', { infer: true });
    const jwksUrl = config.get('JWT_JWKS_URL', { infer: true });
    this.audience = config.get('JWT_AUDIENCE', { infer: true }) || undefined;
    this.issuer = config.get('JWT_ISSUER', { infer: true }) || undefined;
    this.groupsClaim = config.get('AUTH_GROUPS_CLAIM', { infer: true }) ?? 'groups';
    if (secret) {
      this.key = new TextEncoder().encode(secret);
      this.algorithms = ['HS256'];
    } else {
      this.key = pem ? createPublicKey(pem.replace(/\\n/g, '\n')) : jwksUrl ? createRemoteJWKSet(new URL(jwksUrl)) : null;
      this.algorithms = ['RS256', 'ES256'];
    }
  }

  async verify(token: string): Promise<VerifiedToken> {
    if (this.key === null) throw new InvalidToken('No token key is configured');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key as Uint8Array, {
        algorithms: this.algorithms,
        audience: this.audience,
        issuer: this.issuer,
        // A token that never expires would keep its connection open forever.
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      throw new InvalidToken(`Invalid token: ${(err as Error).message}`);
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidToken('Token has no sub claim');
    // The sub becomes the connection's user id, so it keeps the rule every user id keeps.
    const problem = idProblem(payload.sub);
    if (problem) throw new InvalidToken(`Token sub ${problem}`);
    const claim = payload[this.groupsClaim];
    return { userId: payload.sub, groups: groupsOf(Array.isArray(claim) ? claim : []), expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null };
  }
}
