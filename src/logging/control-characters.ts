/**
 * C0 and C1 controls, DEL, and the Unicode line and paragraph separators: what a terminal or
 * log viewer may take as a line break or an escape sequence.
 */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * The text with every control character written as JSON writes it (`\n`, `\u001b`), so a
 * value in a readable log line (an id, a header) cannot start a line of its own or drive
 * the terminal. JSON log lines need none of this: JSON escapes them already.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
