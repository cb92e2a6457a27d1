import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Environment, splitList } from '../config/environment.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { bearerToken } from './bearer-token.js';

const PUBLIC_ROUTE = 'publicRoute';
/** Marks a route every caller may use without a key (health probes). */
export const PublicRoute = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * Every REST route but the public ones needs `Authorization: Bearer <key>` with one of
 * API_KEYS. Keys are compared as SHA-256 digests in constant time, so neither their
 * content nor their length leaks through timing. With no keys configured (development
 * only; production refuses to start) the API is open.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keyDigests: Buffer[];
  /** Per route handler: reading decorator metadata on every request cost more than the check. */
  private readonly publicHandlers = new WeakMap<Function, boolean>();

  constructor(
    config: ConfigService<Environment, true>,
    private readonly reflector: Reflector,
  ) {
    this.keyDigests = splitList(config.get('API_KEYS', { infer: true })).map(digest);
  }

  get isOpen(): boolean {
    return this.keyDigests.length === 0;
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || this.isOpen) return true;
    if (this.isPublic(context)) return true;
    const key = bearerToken(context.switchToHttp().getRequest<{ raw: IncomingMessage }>().raw.headers.authorization);
    const presented = key === null ? null : digest(key);
    if (presented && this.keyDigests.some((key) => timingSafeEqual(key, presented))) return true;
    throw new GatewayError(ErrorCode.Unauthorized, 'A valid API key is required: Authorization: Bearer <key>');
  }

  private isPublic(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let isPublic = this.publicHandlers.get(handler);
    if (isPublic === undefined) {
      isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [handler, context.getClass()]) === true;
      this.publicHandlers.set(handler, isPublic);
    }
    return isPublic;
  }
}

/** One-shot hashing: a `createHash` object per request showed up in the confirm profile. */
function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}
