import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ErrorCode, GatewayError } from './error-code.enum.js';

/** "proceed must be a boolean value; feedback must be a string", nested paths included. */
export function describeValidationErrors(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((text) => text.replace(error.property, path));
    return [...own, ...describeValidationErrors(error.children ?? [], path)];
  });
}

/**
 * Validates socket frames and REST input against their DTOs. Failures become
 * `invalid_message` errors: an `error` frame on a socket, a 400 over HTTP.
 */
export const validationPipe = new ValidationPipe({
  transform: true,
  whitelist: true,
  forbidUnknownValues: false,
  validationError: { target: false, value: false },
  exceptionFactory: (errors) => new GatewayError(ErrorCode.InvalidMessage, describeValidationErrors(errors).join('; ')),
});
