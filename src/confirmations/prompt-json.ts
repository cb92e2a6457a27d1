import { forgetJson, keepJson, keptJsonOf } from '../protocol/frame-json.js';
import type { TaskStepResultFrame } from '../protocol/server-frames.js';
import { type Confirmation, voteViews } from './confirmation.js';

/**
 * The prompt as it goes on the wire, serialized once from creation to every resend: the
 * JSON stored with a record read from Redis, else its frame's, made on the first call and
 * kept on the frame object (which every copy of a memory record shares). Null once the
 * confirmation is settled.
 */
export function promptJson(confirmation: Confirmation): string | null {
  const stored = keptJsonOf(confirmation);
  if (stored !== undefined) return stored;
  const frame = confirmation.frame;
  if (frame === null) return null;
  return keptJsonOf(frame) ?? keepJson(frame);
}

/** The prompt frame, with its JSON kept on it for delivery. */
export function promptFrame(confirmation: Confirmation): TaskStepResultFrame | null {
  promptJson(confirmation);
  return confirmation.frame;
}

/**
 * Gives a record read from storage its prompt as the stored JSON: `frame` is parsed on
 * first read (nothing on the hot path reads it), and promptJson answers the JSON as stored.
 */
export function withStoredPrompt<T extends Confirmation>(record: T, json: string): T {
  let parsed: TaskStepResultFrame | undefined;
  keepJson(record, json);
  Object.defineProperty(record, 'frame', {
    enumerable: true,
    configurable: true,
    get: () => {
      if (parsed === undefined) keepJson((parsed = JSON.parse(json) as TaskStepResultFrame), json);
      return parsed;
    },
    set: (value: TaskStepResultFrame | null) => {
      forgetJson(record);
      Object.defineProperty(record, 'frame', { value, writable: true, enumerable: true, configurable: true });
    },
  });
  return record;
}

/**
 * The prompt as it stands now: a plain one is its kept JSON; one with approvals is its frame
 * with the current approvers (escalation adds some) and the votes so far. Null once settled.
 */
export function currentPromptJson(confirmation: Confirmation): string | null {
  if (!confirmation.approval) return promptJson(confirmation);
  const frame = confirmation.frame;
  if (frame === null || confirmation.state !== 'pending') return null;
  const votes = confirmation.votes ?? [];
  const current: TaskStepResultFrame = { ...frame };
  if (confirmation.approval.approvers) current.approvers = confirmation.approval.approvers;
  if (votes.length > 0) current.votes = voteViews(votes);
  return JSON.stringify(current);
}
