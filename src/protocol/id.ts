/**
 * The one rule for identifiers (user, task, callback and message ids), wherever they come
 * in: DTO fields and socket frames (`@IsId()`), path parameters (`@IdParam()`, which
 * uses `idProblem()`), the upgrade's `?user_id=` and a token's `sub` (`idProblem()`).
 * The SDK's protocol.ts is generated from this file too: its exported constants are
 * literals, and what is server-only (functions, the decorator) is left out of it.
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
import { applyDecorators } from '@nestjs/common';
import { IsString, isString, Length, length, ValidateBy } from 'class-validator';

/** Ids are 1 to MAX_ID_LENGTH characters long, none of them a control character (ID_CHARACTERS_PATTERN). */
export const MAX_ID_LENGTH = 256;

/** Any number of characters but the control characters, as JSON Schema's `pattern` has it (also used without the `u` flag). */
export const ID_CHARACTERS_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$';

const ID_CHARACTERS = new RegExp(ID_CHARACTERS_PATTERN);

/** The name of the server's validation rule for the characters (its JSON Schema is ID_CHARACTERS_PATTERN). */
export const HAS_NO_CONTROL_CHARACTERS = 'hasNoControlCharacters';

const TEXT = {
  type: 'must be a string',
  length: `must be 1 to ${MAX_ID_LENGTH} characters long`,
  characters: 'must not contain control characters',
};

export function hasNoControlCharacters(value: unknown): boolean {
  return typeof value === 'string' && ID_CHARACTERS.test(value);
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
