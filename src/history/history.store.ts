/**
 * Which stream a frame belongs to: the user's own stream (prompts, resolutions, task
 * messages, heartbeats, cancellations, personal messages), one task's stream (what its
 * subscribers get), or the single broadcast stream. A broadcast is kept once, never per user.
 */
export type StreamRef = { kind: 'user'; id: string } | { kind: 'task'; id: string } | { kind: 'broadcast' } | GroupStreamRef;

/**
 * The members of a group (approvers named by group): live frames only, never kept (a group
 * has no history; a reconnecting member gets its pending approvals from the store instead).
 */
export type GroupStreamRef = { kind: 'group'; id: string };

/** Streams whose frames are kept when history is on: every kind but groups. */
export type KeptStreamRef = Exclude<StreamRef, GroupStreamRef>;

export const BROADCAST_STREAM: StreamRef = { kind: 'broadcast' };
export const userStream = (id: string): StreamRef => ({ kind: 'user', id });
export const taskStream = (id: string): StreamRef => ({ kind: 'task', id });
export const groupStream = (id: string): StreamRef => ({ kind: 'group', id });
export const isKept = (stream: StreamRef): stream is KeptStreamRef => stream.kind !== 'group';

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
  return stream.kind === 'user' ? 'u' : stream.kind === 'broadcast' ? 'b' : stream.kind === 'group' ? `g:${stream.id}` : `t:${stream.id}`;
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

export interface Appended {
  offset: number;
  json: string;
}

/** One page of a stream's kept frames, read for a catch-up. */
export interface HistoryPage {
  position: StreamPosition;
  /** Kept entries from the page's first offset on, oldest first (possibly none, possibly starting later: trimmed). */
  entries: HistoryEntry[];
}

/** How much one page may hold: at most `frames` frames, and no more frames once `bytes` is reached (one at least). */
export interface PageLimits {
  frames: number;
  bytes: number;
}

export interface HistoryLimits {
  /** Frames kept per stream; 0 turns history (and offsets) off. */
  size: number;
  /** How long a frame is kept. */
  ttlMs: number;
  /** How long a stream's epoch and offset outlive its last frame. */
  metaTtlMs: number;
  /** Bytes of frames kept per stream: the oldest go first past it. */
  maxBytesPerStream: number;
  /** Bytes of frames kept in all streams together (the memory store; Redis: see RedisHistoryStore). */
  maxBytesTotal: number;
}

/**
 * The bounded history of every stream, as Centrifugo keeps it (frames are appended by the
 * Broker, which publishes them in the same step; this seam reads them): a stream has an epoch and
 * a counter; each appended frame gets the next offset, written into the frame itself
 * (`"offset":N` as its last field), and is kept while it is among the last `size` frames,
 * within the stream's byte bound and younger than `ttlMs`. The memory store keeps it in this process (a restart makes
 * new epochs); the Redis store in a stream per user (XADD MAXLEN ~) and a meta hash.
 */
export abstract class HistoryStore {
  constructor(readonly limits: HistoryLimits) {}

  get enabled(): boolean {
    return this.limits.size > 0;
  }

  /** The stream's current position (made, with a new epoch, if the stream is unknown). */
  abstract position(stream: StreamRef): Promise<StreamPosition>;

  /**
   * The kept entries with offsets from `from` up to `through` (null: the top), oldest first,
   * within the page limits, and the stream's position. Catch-ups read a stream page by page.
   */
  abstract readPage(stream: StreamRef, from: number, through: number | null, page: PageLimits): Promise<HistoryPage>;
}

/** `{"a":1}` -> `{"a":1,"offset":` ; the offset and the closing brace are added on append. */
export function offsetPrefix(json: string, stream: KeptStreamRef): string {
  const field = `"${OFFSET_FIELD[stream.kind]}":`;
  return json === '{}' ? `{${field}` : `${json.slice(0, -1)},${field}`;
}

/** The entries a page may hold: from the first, up to `page.frames`, stopping once `page.bytes` is reached. */
export function takePage<T extends { json: string }>(entries: Iterable<T>, page: PageLimits): T[] {
  const taken: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (taken.length >= page.frames || (taken.length > 0 && bytes >= page.bytes)) break;
    taken.push(entry);
    bytes += entry.json.length;
  }
  return taken;
}
