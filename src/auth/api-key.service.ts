import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { hash, timingSafeEqual } from 'node:crypto';
import { Environment, splitList } from '../config/environment.js';
import { bearerToken } from './bearer-token.js';

/**
 * The REST API's keys (API_KEYS). Keys are compared as SHA-256 digests in constant time,
 * so neither their content nor their length leaks through timing. With no keys configured
 * (development only; production refuses to start) every caller is accepted.
 */
@Injectable()
export class ApiKeyService {
  private readonly keyDigests: Buffer[];

  constructor(config: ConfigService<Environment, true>) {
    this.keyDigests = splitList(config.get('API_KEYS', { infer: true })).map(digest);
  }

  get isOpen(): boolean {
    return this.keyDigests.length === 0;
  }

  /** True when an `Authorization: Bearer <key>` header carries one of the keys. */
  accepts(authorization: string | undefined): boolean {
    return this.isOpen || this.keyIndex(authorization) >= 0;
  }

  /** Which of the keys the header carries (0 is the first of API_KEYS); -1 for none. */
  keyIndex(authorization: string | undefined): number {
    const key = bearerToken(authorization);
    if (key === null) return -1;
    const presented = digest(key);
    let index = -1;
    // Every key is compared, so the time taken does not say which one matched.
    for (let i = 0; i < this.keyDigests.length; i++) {
      const equal = timingSafeEqual(this.keyDigests[i], presented);
      index = equal ? i : index;
    }
    return index;
  }
}

/**
 * How the audit trail names the key a request came with: its place in API_KEYS (`key-1` is
 * the first), never the key or anything computed from it.
 */
export function apiKeyId(index: number): string {
  return `key-${index + 1}`;
}

/** One-shot hashing: a `createHash` object per request showed up in the confirm profile. */
function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}
