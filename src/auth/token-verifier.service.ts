import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
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

type Jose = typeof import('jose');

/**
 * Verifies user tokens (HS256 secret, or RS256/ES256 by PEM key or JWKS) with `jose`, which
 * is loaded at start-up only when a token key is configured (AUTH_MODE=jwt).
 */
@Injectable()
export class TokenVerifier implements OnModuleInit {
  private key: Uint8Array | KeyObject | JWTVerifyGetKey | null = null;
  private jose: Jose | null = null;
  private readonly jwksUrl?: string;
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
      if (pem) this.key = createPublicKey(pem.replace(/\\n/g, '\n'));
      else if (jwksUrl) this.jwksUrl = jwksUrl;
      this.algorithms = ['RS256', 'ES256'];
    }
  }

  async onModuleInit(): Promise<void> {
    if (this.key === null && !this.jwksUrl) return;
    this.jose = await import('jose');
    if (this.jwksUrl) this.key = this.jose.createRemoteJWKSet(new URL(this.jwksUrl));
  }

  async verify(token: string): Promise<VerifiedToken> {
    if (this.key === null || this.jose === null) throw new InvalidToken('No token key is configured');
    let payload: JWTPayload;
    try {
      ({ payload } = await this.jose.jwtVerify(token, this.key as Uint8Array, {
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
