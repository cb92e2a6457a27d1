import { applyDecorators, ArgumentMetadata, Param, PipeTransform } from '@nestjs/common';
import { IsString, isString, Length, length, ValidateBy } from 'class-validator';
import { ErrorCode, GatewayError } from './error-code.enum.js';

/**
 * The one rule for identifiers (user, task, callback and message ids), wherever they come
 * in: DTO fields and socket frames (`@IsId()`), path parameters (`@IdParam()`), the
 * upgrade's `?user_id=` and a token's `sub` (`idProblem()`).
 *
 * An id is a string of 1 to MAX_ID_LENGTH characters without control characters: C0
 * (U+0000–U+001F: NUL, tab, newline…), DEL (U+007F) and C1 (U+0080–U+009F), and the
 * Unicode line and paragraph separators (U+2028, U+2029), which some log viewers and
 * JavaScript-era tools break lines at, as they do at a newline. No real id needs one, and
 * they let an id pose as two (a separator inside a key) or forge a log line.
 * Other invisible characters are allowed: zero-width joiners and non-joiners, variation
 * selectors and bidirectional marks are parts of ordinary text (emoji sequences, Persian
 * and Indic scripts, right-to-left names), and the stores' keys cannot be confused by them.
 */
export const MAX_ID_LENGTH = 256;

const CONTROL_CHARACTER_RANGES = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029';

/** `^[^<controls>]*$`, as JSON Schema's `pattern` has it (also used without the `u` flag). */
export const ID_CHARACTERS_PATTERN = `^[^${CONTROL_CHARACTER_RANGES}]*$`;

const CONTROL_CHARACTER = new RegExp(`[${CONTROL_CHARACTER_RANGES}]`);

/** The class-validator rule's name, which dto-schema.ts maps to ID_CHARACTERS_PATTERN. */
export const HAS_NO_CONTROL_CHARACTERS = 'hasNoControlCharacters';

const TEXT = {
  type: 'must be a string',
  length: `must be 1 to ${MAX_ID_LENGTH} characters long`,
  characters: 'must not contain control characters',
};

export function hasNoControlCharacters(value: unknown): boolean {
  return typeof value === 'string' && !CONTROL_CHARACTER.test(value);
}

/** What is wrong with `value` as an id ("must be a string"…), or null when it is a good one. */
export function idProblem(value: unknown): string | null {
  if (!isString(value)) return TEXT.type;
  if (!length(value, 1, MAX_ID_LENGTH)) return TEXT.length;
  if (!hasNoControlCharacters(value)) return TEXT.characters;
  return null;
}

/** A DTO field or frame field that is an id. */
export function IsId(): PropertyDecorator {
  return applyDecorators(
    IsString({ message: `$property ${TEXT.type}` }),
    Length(1, MAX_ID_LENGTH, { message: `$property ${TEXT.length}` }),
    ValidateBy({
      name: HAS_NO_CONTROL_CHARACTERS,
      validator: { validate: hasNoControlCharacters, defaultMessage: () => `$property ${TEXT.characters}` },
    }),
  );
}

/** Refuses a path parameter that is no id with `invalid_message` (a 400). */
export class IdParamPipe implements PipeTransform<unknown, string> {
  transform(value: unknown, metadata: ArgumentMetadata): string {
    const problem = idProblem(value);
    if (problem) throw new GatewayError(ErrorCode.InvalidMessage, `${metadata.data ?? 'id'} ${problem}`);
    return value as string;
  }
}

export const ID_PARAM_PIPE = new IdParamPipe();

/** `@Param(name)` for a path parameter that is an id. */
export function IdParam(name: string): ParameterDecorator {
  return Param(name, ID_PARAM_PIPE);
}
