/**
 * One map key for a tuple of strings (a user and a task, say). JSON of the tuple: every
 * part is quoted and its quotes and backslashes escaped, so two different tuples never
 * share a key, whatever characters the parts hold. A separator joined in bare would let
 * ("carol\nprod", "X") and ("carol", "prod\nX") meet.
 */
export function compositeKey(...parts: string[]): string {
  return JSON.stringify(parts);
}
