/** A message sent with `requires_ack: true`, until it is acknowledged or expires. */
export interface AckedMessage {
  messageId: string;
  /** Who must acknowledge: the user (POST /users/:id/messages) ... */
  userId: string | null;
  /** ... or any subscriber of the task (POST /tasks/:id/messages). */
  taskId: string | null;
  /** The frame as first sent (message_id and requires_ack included, no offset). */
  frame: string;
  createdAt: number;
  expiresAt: number;
  ackedAt: number | null;
  ackedBy: string | null;
  ackedConnection: string | null;
}

export type AckOutcome =
  | { kind: 'acked'; message: AckedMessage }
  | { kind: 'already'; message: AckedMessage }
  | { kind: 'expired'; message: AckedMessage }
  | { kind: 'not_found' }
  | { kind: 'forbidden' };

/**
 * Messages that wait for an acknowledgement, kept until acknowledged or expired (and then
 * readable for `retentionMs`). Memory keeps them in this process; Redis in one key per
 * message plus an index per user and per task, so any instance re-sends and accepts them.
 * Records are values (a later ack does not change one handed out), and a record is gone
 * once its retention has passed: test/contracts/ack-store.spec.ts holds both stores to it.
 */
export abstract class AckStore {
  abstract create(message: AckedMessage, retentionMs: number): Promise<void>;

  abstract get(messageId: string): Promise<AckedMessage | undefined>;

  /**
   * Records the acknowledgement of `userId`'s connection. `mayAck` says whether a user may
   * acknowledge a task's message (it follows the task).
   */
  abstract ack(messageId: string, userId: string, connectionId: string, now: number, retentionMs: number, mayAck: (message: AckedMessage) => Promise<boolean>): Promise<AckOutcome>;

  /** Unacknowledged, unexpired messages for the user (or the task), oldest first. */
  abstract unacked(owner: { userId: string } | { taskId: string }, now: number): Promise<AckedMessage[]>;

  /**
   * Calls the listener with each message acknowledged on another instance, as soon as it
   * is heard of (at most once: a wake-up can be lost, what is stored decides).
   */
  abstract onAckedElsewhere(listener: (message: AckedMessage) => void): void;
}

/** The outcome an ack has on a record; shared by both stores. */
export function decideAck(message: AckedMessage, userId: string, now: number): 'acked' | 'already' | 'expired' | 'forbidden' {
  if (message.userId !== null && message.userId !== userId) return 'forbidden';
  if (message.ackedAt !== null) return 'already';
  if (now >= message.expiresAt) return 'expired';
  return 'acked';
}
