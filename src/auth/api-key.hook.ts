import type { FastifyInstance } from 'fastify';
import { refuseFromHook } from '../http/http-error.filter.js';
import { mergeRouteConfig } from '../http/route-input.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { apiKeyId, ApiKeyService } from './api-key.service.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by @PublicRoute(). */
    publicRoute?: boolean;
  }
  interface FastifyRequest {
    /** Which of API_KEYS the request came with (`key-1`...); null for public routes and without keys. Never the key. */
    apiKeyId: string | null;
  }
}

/** Marks a route every caller may use without a key (health probes). */
export const PublicRoute = (): MethodDecorator => (_target, _key, descriptor) => {
  mergeRouteConfig(descriptor.value as Function, { publicRoute: true });
};

const MISSING_KEY = new GatewayError(ErrorCode.Unauthorized, 'A valid API key is required: Authorization: Bearer <key>');

/**
 * Every REST route but the public ones needs `Authorization: Bearer <key>` with one of
 * API_KEYS. Checked when the request arrives, before its body is read: a caller without
 * a key cannot make the server read or parse a body. WebSocket upgrades do not pass
 * here; they authenticate users, not services (see UpgradeAuthenticator).
 */
export function requireApiKey(fastify: FastifyInstance, keys: ApiKeyService): void {
  fastify.decorateRequest('apiKeyId', null);
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.publicRoute === true || keys.isOpen) return done();
    const index = keys.keyIndex(request.headers.authorization);
    if (index < 0) return refuseFromHook(reply, MISSING_KEY);
    request.apiKeyId = apiKeyId(index);
    done();
  });
}
