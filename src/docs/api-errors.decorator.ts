import { SetMetadata } from '@nestjs/common';
import { ErrorCode } from '../protocol/error-code.enum.js';

export const API_ERRORS = 'gateway:api-errors';

/**
 * The error codes a route answers with besides the ones every route of its kind has
 * (500 on every route; 401 without a key; 400, 413 and 415 for a body; 503 with
 * ApiSharedState). The OpenAPI document lists them under their HTTP status, with the
 * `{statusCode, code, message}` body.
 */
export const ApiErrors = (...codes: ErrorCode[]) => SetMetadata(API_ERRORS, codes);

export const API_SHARED_STATE = 'gateway:api-shared-state';

/**
 * On a controller (or one route): it reads or writes the shared state, Redis in cluster
 * mode, so it answers 503 `unavailable` while Redis does not answer (RedisService.run).
 */
export const ApiSharedState = () => SetMetadata(API_SHARED_STATE, true);
