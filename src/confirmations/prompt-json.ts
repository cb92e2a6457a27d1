import type { TaskStepResultFrame } from '../protocol/server-frames.js';
import type { Confirmation } from './confirmation.js';

/**
 * Where a prompt's JSON is kept: a hidden (non-enumerable, so neither JSON nor a copy of
 * the record sees it) property of its frame object, which every copy of a memory record
 * shares, or of a record read from Redis. Not a WeakMap: its entries cost every GC.
 */
const PROMPT_JSON = Symbol('promptJson');

type Holder = { [PROMPT_JSON]?: string };

/**
 * The prompt as it goes on the wire, serialized once from creation to every resend: the
 * record's stored JSON when it was read from Redis, else its frame's, stringified on the
 * first call and kept. Null once the confirmation is settled.
 */
export function promptJson(confirmation: Confirmation): string | null {
  const stored = (confirmation as Holder)[PROMPT_JSON];
  if (stored !== undefined) return stored;
  const frame = confirmation.frame as (TaskStepResultFrame & Holder) | null;
  if (frame === null) return null;
  let json = frame[PROMPT_JSON];
  if (json === undefined) Object.defineProperty(frame, PROMPT_JSON, { value: (json = JSON.stringify(frame)) });
  return json;
}

/**
 * Gives a record read from storage its prompt as the stored JSON: `frame` is parsed on
 * first read (nothing on the hot path reads it), and promptJson answers the JSON as stored.
 */
export function withStoredPrompt<T extends Confirmation>(record: T, json: string): T {
  let parsed: TaskStepResultFrame | undefined;
  Object.defineProperty(record, PROMPT_JSON, { value: json, configurable: true });
  Object.defineProperty(record, 'frame', {
    enumerable: true,
    configurable: true,
    get: () => {
      if (parsed === undefined) Object.defineProperty((parsed = JSON.parse(json) as TaskStepResultFrame), PROMPT_JSON, { value: json });
      return parsed;
    },
    set: (value: TaskStepResultFrame | null) => {
      delete (record as Holder)[PROMPT_JSON];
      Object.defineProperty(record, 'frame', { value, writable: true, enumerable: true, configurable: true });
    },
  });
  return record;
}
