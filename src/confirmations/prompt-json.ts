import type { TaskStepResultFrame } from '../protocol/server-frames.js';
import type { Confirmation } from './confirmation.js';

/** Each prompt frame's JSON, made once: the frame object is shared by every copy of its record. */
const jsonOfFrame = new WeakMap<object, string>();
/** The JSON of records read from Redis, whose frame object is made only if a field is read. */
const jsonOfRecord = new WeakMap<object, string>();

/**
 * The prompt as it goes on the wire, serialized once from creation to every resend: the
 * record's stored JSON when it was read from Redis, else its frame's, stringified on the
 * first call and remembered. Null once the confirmation is settled.
 */
export function promptJson(confirmation: Confirmation): string | null {
  const stored = jsonOfRecord.get(confirmation);
  if (stored !== undefined) return stored;
  const frame = confirmation.frame;
  if (frame === null) return null;
  let json = jsonOfFrame.get(frame);
  if (json === undefined) jsonOfFrame.set(frame, (json = JSON.stringify(frame)));
  return json;
}

/**
 * Gives a record read from storage its prompt as the stored JSON: `frame` is parsed on
 * first read (nothing on the hot path reads it), and promptJson answers the JSON as stored.
 */
export function withStoredPrompt<T extends Confirmation>(record: T, json: string): T {
  let parsed: TaskStepResultFrame | undefined;
  jsonOfRecord.set(record, json);
  Object.defineProperty(record, 'frame', {
    enumerable: true,
    configurable: true,
    get: () => {
      if (parsed === undefined) jsonOfFrame.set((parsed = JSON.parse(json) as TaskStepResultFrame), json);
      return parsed;
    },
    set: (value: TaskStepResultFrame | null) => {
      jsonOfRecord.delete(record);
      Object.defineProperty(record, 'frame', { value, writable: true, enumerable: true, configurable: true });
    },
  });
  return record;
}
