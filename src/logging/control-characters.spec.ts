import { describe, expect, it } from '@jest/globals';
import { escapeControlCharacters } from './control-characters.js';

describe('escapeControlCharacters', () => {
  it('writes line breaks, escapes and C1 controls as JSON would, so nothing starts a new line', () => {
    expect(escapeControlCharacters('carol\n12:00:00 INFO forged\r\t')).toBe('carol\\n12:00:00 INFO forged\\r\\t');
    expect(escapeControlCharacters('\u001b[31mred\u0000\u007f\u0085\u009b\u2028\u2029')).toBe('\\u001b[31mred\\u0000\\u007f\\u0085\\u009b\\u2028\\u2029');
  });

  it('leaves ordinary text alone, other languages and emoji included', () => {
    const text = 'Confirmation for user ałîçé 同意 👩‍💻 (task "t-1") done';
    expect(escapeControlCharacters(text)).toBe(text);
  });
});
