/**
 * Which stream a frame belongs to: the user's own stream (prompts, resolutions, task
 * messages, heartbeats, cancellations, personal messages), one task's stream (what its
 * subscribers get), or the single broadcast stream. A broadcast is kept once, never per user.
 */
export type StreamRef = { kind: 'user'; id: string } | { kind: 'task'; id: string } | { kind: 'broadcast' };

export const BROADCAST_STREAM: StreamRef = { kind: 'broadcast' };
export const userStream = (id: string): StreamRef => ({ kind: 'user', id });
export const taskStream = (id: string): StreamRef => ({ kind: 'task', id });

/**
 * The field that carries a frame's position, one name per kind of stream, so a client
 * tracks each stream without a second field saying which stream a frame is on.
 */
export const OFFSET_FIELD = { user: 'offset', task: 'task_offset', broadcast: 'broadcast_offset' } as const;

/**
 * The key a frame's stream has on one connection: a connection has one user, so 'u' is
 * enough for its user stream. Held frames are matched against recovered positions by it.
 */
export function connectionStreamKey(stream: StreamRef): string {
  return stream.kind === 'user' ? 'u' : stream.kind === 'broadcast' ? 'b' : `t:${stream.id}`;
}

/** Where a stream is: its epoch (new whenever its history was lost) and its last offset. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

/** A frame kept in a stream. */
export interface HistoryEntry {
  offset: number;
  /** Epoch ms when it was appended. */
  at: number;
  /** The frame as sent, offset included. */
  json: string;
  /** Users who got this task frame on their own stream (a frame for a user and a task). */
  skipUsers?: readonly string[];
}

export interface RecoveredFrame {
  offset: number;
  json: string;
}

export interface Appended {
  offset: number;
  json: string;
}

/** What a client at (epoch, offset) missed, as far as the history still holds it. */
export interface Recovery {
  position: StreamPosition;
  /** True when `frames` is everything the client missed. */
  recovered: boolean;
  /** Oldest first. */
  frames: RecoveredFrame[];
}

export interface HistoryLimits {
  /** Frames kept per stream; 0 turns history (and offsets) off. */
  size: number;
  /** How long a frame is kept. */
  ttlMs: number;
  /** How long a stream's epoch and offset outlive its last frame. */
  metaTtlMs: number;
}

/**
 * The bounded history of every stream, as Centrifugo keeps it: a stream has an epoch and
 * a counter; each appended frame gets the next offset, written into the frame itself
 * (`"offset":N` as its last field), and is kept while it is among the last `size` frames
 * and younger than `ttlMs`. The memory store keeps it in this process (a restart makes
 * new epochs); the Redis store in a stream per user (XADD MAXLEN ~) and a meta hash.
 */
export abstract class HistoryStore {
  constructor(readonly limits: HistoryLimits) {}

  get enabled(): boolean {
    return this.limits.size > 0;
  }

  /** Appends the frame (JSON of an object) to the stream; resolves to its offset and final JSON. */
  abstract append(stream: StreamRef, json: string, skipUsers?: readonly string[]): Promise<Appended>;

  /** The stream's current position (made, with a new epoch, if the stream is unknown). */
  abstract position(stream: StreamRef): Promise<StreamPosition>;

  /** The frames after `offset` if the stream is still at `epoch`. `forUser` leaves out frames that user got on its own stream. */
  abstract recover(stream: StreamRef, epoch: string, offset: number, forUser?: string): Promise<Recovery>;

  /** Frees memory; the Redis store leaves expiry to Redis. */
  sweep(_now: number): void {}
}

/** `{"a":1}` -> `{"a":1,"offset":` ; the offset and the closing brace are added on append. */
export function offsetPrefix(json: string, stream: StreamRef): string {
  const field = `"${OFFSET_FIELD[stream.kind]}":`;
  return json === '{}' ? `{${field}` : `${json.slice(0, -1)},${field}`;
}

/**
 * Decides a recovery from the stream's position and the entries after the client's
 * offset (oldest first, possibly trimmed). Complete means the client's epoch is current
 * and every offset from its own to the top is still there and young enough.
 */
export function decideRecovery(
  position: StreamPosition,
  epoch: string,
  offset: number,
  entries: readonly HistoryEntry[],
  oldestKept: number,
  forUser?: string,
): Recovery {
  if (epoch !== position.epoch || offset > position.offset) return { position, recovered: false, frames: [] };
  const kept = entries.filter((entry) => entry.offset > offset && entry.at >= oldestKept);
  const recovered = offset === position.offset || (kept.length > 0 && kept[0].offset === offset + 1 && kept[kept.length - 1].offset === position.offset && kept.length === position.offset - offset);
  const frames: RecoveredFrame[] = [];
  for (const entry of kept) if (forUser === undefined || !entry.skipUsers?.includes(forUser)) frames.push({ offset: entry.offset, json: entry.json });
  return { position, recovered, frames };
}
