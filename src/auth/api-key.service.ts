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
    if (this.isOpen) return true;
    const key = bearerToken(authorization);
    if (key === null) return false;
    const presented = digest(key);
    let accepted = false;
    // Every key is compared, so the time taken does not say which one matched.
    for (const known of this.keyDigests) accepted = timingSafeEqual(known, presented) || accepted;
    return accepted;
  }
}

/** One-shot hashing: a `createHash` object per request showed up in the confirm profile. */
function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}
