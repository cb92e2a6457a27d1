import type { WebSocket } from 'ws';
import type { PreparedFrame } from './prepared-frame.js';
import type { StreamOffsets } from './stream-offsets.js';

/** One open socket and what the registry knows about it. */
export interface ClientConnection {
  readonly id: string;
  readonly socket: WebSocket;
  readonly connectedAt: number;
  /**
   * When the token it connected with expires, on the monotonic clock (performance.now),
   * so a wall-clock step neither closes it early nor keeps it open late.
   */
  readonly tokenExpiresAtMonotonic: number | null;
  /** Null until the connection identifies itself; broadcasts still reach it. */
  userId: string | null;
  /** The user's groups, from its token (or ?groups= with AUTH_MODE=none): approvers may be named by group. NO_GROUPS when none. */
  readonly groups: readonly string[];
  /** NO_TASKS until the first subscribe (ConnectionService.subscribeTask), so idle connections share one. */
  tasks: ReadonlySet<string>;
  /** Set when a keepalive ping is out, cleared by the pong. */
  pingSentAt: number | null;
  /** Token bucket of client frames (see ConnectionService.admitFrame); monotonic ms. */
  frameTokens: number;
  tokensRefilledAt: number;
  /** Frames refused in the current abuse window, and when that window began. */
  refusedInWindow: number;
  abuseWindowStartedAt: number;
  lastRateErrorAt: number;
  /**
   * Live frames held back while the connection catches up on a stream's history (see
   * ConnectionService.hold); null when frames go straight out.
   */
  held: PreparedFrame[] | null;
  /** Bytes of the held frames: they count toward the slow-consumer limit like unsent ones. */
  heldBytes: number;
  /**
   * After a catch-up, per stream key the offset it covered: a live frame at or below it
   * that arrives late (cluster mode: the channel and the history read use two Redis
   * connections) is dropped. A stream's floor goes with its first newer frame.
   */
  floors: StreamOffsets | null;
  /** Catch-ups in progress; frames are held while it is above 0. */
  holds: number;
  /**
   * Per stream key, the offset the connection started (or last caught up) at: it has been
   * sent every frame of that stream after it. Set only when history is on.
   */
  streamStarts: StreamOffsets | null;
  /** Round trip of the last answered keepalive ping, in ms; null until one was answered. */
  rttMs: number | null;
  /**
   * The gateway's message handlers bound to this socket, in the order of `actions` (one
   * array shared by every connection); see GatewayWsAdapter.bindMessageHandlers.
   */
  actions: readonly string[];
  handlers: readonly ((...args: unknown[]) => unknown)[];
  /** Frames received from and written to the client. */
  framesIn: number;
  framesOut: number;
}

/** The task set of every connection subscribed to none: never written to. */
export const NO_TASKS: ReadonlySet<string> = new (class NoTasks extends Set<string> {
  add(): never {
    throw new Error('NO_TASKS is shared by every connection and stays empty');
  }
})();

/** The groups of every connection that has none. */
export const NO_GROUPS: readonly string[] = Object.freeze([]);

/** The handlers of a connection that has none bound (yet). */
export const NO_HANDLERS: readonly never[] = Object.freeze([]);

/** The fields every log line about a socket carries, so its lines can be found by connection or user. */
export function socketLogFields(connection: ClientConnection): { connectionId: string; userId: string | null } {
  return { connectionId: connection.id, userId: connection.userId };
}
