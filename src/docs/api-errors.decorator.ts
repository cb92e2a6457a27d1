import { SetMetadata } from '@nestjs/common';
import { ErrorCode } from '../protocol/error-code.enum.js';

export const API_ERRORS = 'gateway:api-errors';

/**
 * The error codes a route answers with besides the ones every route of its kind has
 * (401 without a key; 400, 413 and 415 for a body). The OpenAPI document lists them
 * under their HTTP status, with the `{statusCode, code, message}` body.
 */
export const ApiErrors = (...codes: ErrorCode[]) => SetMetadata(API_ERRORS, codes);
