import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { WebSocket } from 'ws';
import type { Environment } from '../config/environment.js';
import type { ClientConnection } from '../connections/client-connection.js';
import { ConnectionService } from '../connections/connection.service.js';
import { PreparedFrame } from '../connections/prepared-frame.js';
import { BROADCAST_STREAM, connectionStreamKey, HistoryStore, PageLimits, StreamPosition, StreamRef, taskStream, userStream } from '../history/history.store.js';
import type { ConnectedFrame, ResumedFrame, ResumedStream, SubscriptionConfirmedFrame } from '../protocol/server-frames.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { ClientPosition, PageReader, StreamCatchUp, StreamCatchUpResult } from './stream-catch-up.js';
import { ConcurrencyLimit } from '../common/concurrency-limit.js';
import { StreamOffsets } from '../connections/stream-offsets.js';

export type { ClientPosition } from './stream-catch-up.js';

/** One page of a catch-up: at most this many frames, and no more once this many bytes are in. */
export const CATCH_UP_PAGE: PageLimits = { frames: 64, bytes: 256 * 1024 };
/** The next page waits while more than this is unsent on the socket. */
export const CATCH_UP_PACE_BYTES = 256 * 1024;
/**
 * Pages an instance reads at once, for all its connections: in cluster mode what Redis may
 * hold in replies for the instance stays under this many pages, however many sockets resume.
 */
export const CATCH_UP_PAGE_READS = 16;
const PACE_POLL_MS = 10;

/** The positions a reconnecting client presents (upgrade URL or `resume` frame). */
export interface ResumeRequest {
  user?: ClientPosition;
  broadcast?: ClientPosition;
}

interface Target {
  kind: ResumedStream;
  ref: StreamRef;
  taskId?: string;
}

/** What a `resume` did for the user's stream. */
export interface UserResume {
  /** Everything the client missed on its user stream was sent. */
  recovered: boolean;
  /**
   * The connection now has frames from before what it had been sent (or learned they are
   * gone): false for a position it had already been sent, however often repeated.
   */
  reachedBack: boolean;
}

/**
 * Brings a connection up to date with its streams. While it reads the history it holds
 * the connection's live frames back (ConnectionService.hold), sends what the client
 * missed, then the `resumed` frame, then the live frames it has not sent already, so the
 * client sees every frame once and in order.
 *
 * A catch-up costs what the client missed, once: a connection runs one catch-up at a
 * time (the next waits for it), reads only what it has not been sent yet (see
 * StreamCatchUp), in bounded pages paced by its socket.
 */
@Injectable()
export class CatchUpService {
  /** Per connection, the end of its last queued catch-up. */
  private readonly queues = new WeakMap<ClientConnection, Promise<unknown>>();
  /** Connections with a `resume` frame queued or running. */
  private readonly resuming = new WeakSet<ClientConnection>();
  private readonly ttlMs: number;
  private readonly pageReads = new ConcurrencyLimit(CATCH_UP_PAGE_READS);
  private readonly pages: PageReader = {
    readPage: (...args) => this.pageReads.run(() => this.history.readPage(...args)),
  };

  constructor(
    private readonly history: HistoryStore,
    private readonly connections: ConnectionService,
    config: ConfigService<Environment, true>,
  ) {
    this.ttlMs = config.get('HISTORY_TTL_SECONDS', { infer: true }) * 1000;
  }

  /** Runs the catch-up after every one queued before it on the connection. */
  exclusive<T>(connection: ClientConnection, catchUp: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(connection) ?? Promise.resolve();
    const next = previous.then(catchUp, catchUp);
    this.queues.set(connection, next.catch(() => undefined));
    return next;
  }

  /** True while a `resume` frame of the connection is queued or running. */
  isResuming(connection: ClientConnection): boolean {
    return this.resuming.has(connection);
  }

  get enabled(): boolean {
    return this.history.enabled;
  }

  /**
   * Sends `connected` with the streams' positions, then whatever a resuming client missed.
   * Resolves to true when the user's stream was recovered completely (nothing else to resend).
   * The caller runs it through `exclusive`.
   */
  async open(connection: ClientConnection, connected: ConnectedFrame, request: ResumeRequest): Promise<boolean> {
    const targets = this.targetsOf(connection);
    this.connections.hold(connection);
    const caughtUp = new Map<string, number>();
    let sentConnected = false;
    try {
      const catchUps = targets.map((target) => this.catchUpOf(connection, target, request[target.kind as 'user' | 'broadcast']));
      const positions = await Promise.all(catchUps.map((catchUp) => catchUp.start()));
      for (const [i, target] of targets.entries()) {
        const position = positions[i];
        if (target.kind === 'user') Object.assign(connected, { epoch: position.epoch, offset: position.offset });
        else Object.assign(connected, { broadcast_epoch: position.epoch, broadcast_offset: position.offset });
      }
      this.connections.sendFrameNow(connection, connected);
      sentConnected = true;
      let userRecovered = false;
      for (const [i, target] of targets.entries()) {
        const result = await this.finish(connection, target, catchUps[i], caughtUp);
        if (target.kind === 'user') userRecovered = result.recovered;
      }
      return userRecovered;
    } finally {
      if (!sentConnected) this.connections.sendFrameNow(connection, connected);
      this.connections.release(connection, caughtUp);
    }
  }

  /**
   * The `resume` frame, one at a time per connection (the caller refuses a second one
   * while `isResuming`). Frames this connection was sent already, live or by an earlier
   * catch-up, are not sent again; missed ones come after those sent live.
   */
  async resume(connection: ClientConnection, request: ResumeRequest): Promise<UserResume> {
    this.resuming.add(connection);
    try {
      return await this.exclusive(connection, () => this.resumeNow(connection, request));
    } finally {
      this.resuming.delete(connection);
    }
  }

  private async resumeNow(connection: ClientConnection, request: ResumeRequest): Promise<UserResume> {
    const targets = this.targetsOf(connection).filter((target) => request[target.kind as 'user' | 'broadcast'] !== undefined);
    this.connections.hold(connection);
    const caughtUp = new Map<string, number>();
    const user: UserResume = { recovered: false, reachedBack: false };
    try {
      for (const target of targets) {
        const result = await this.finish(connection, target, this.catchUpOf(connection, target, request[target.kind as 'user' | 'broadcast']), caughtUp);
        if (target.kind === 'user') Object.assign(user, { recovered: result.recovered, reachedBack: result.reachedBack });
      }
      return user;
    } finally {
      this.connections.release(connection, caughtUp);
    }
  }

  /** The user's stream position for a connection that just took on that user. */
  async adoptUser(connection: ClientConnection, userId: string): Promise<StreamPosition> {
    const position = await this.history.position(userStream(userId));
    this.startsOf(connection).set('u', position.offset);
    return position;
  }

  /**
   * Replies to a task subscription with the task stream's position and, when the client
   * gave its last one, the task frames it missed and a `resumed` frame. Runs after any
   * other catch-up of the connection.
   */
  followTask(connection: ClientConnection, taskId: string, reply: SubscriptionConfirmedFrame, from?: ClientPosition): Promise<void> {
    return this.exclusive(connection, () => this.followTaskNow(connection, taskId, reply, from));
  }

  private async followTaskNow(connection: ClientConnection, taskId: string, reply: SubscriptionConfirmedFrame, from?: ClientPosition): Promise<void> {
    const target: Target = { kind: 'task', ref: taskStream(taskId), taskId };
    this.connections.hold(connection);
    const caughtUp = new Map<string, number>();
    let replied = false;
    try {
      const catchUp = this.catchUpOf(connection, target, from);
      const position = await catchUp.start();
      reply.task_epoch = position.epoch;
      reply.task_offset = position.offset;
      this.connections.sendFrameNow(connection, reply);
      replied = true;
      await this.finish(connection, target, catchUp, caughtUp);
    } finally {
      if (!replied) this.connections.sendFrameNow(connection, reply);
      this.connections.release(connection, caughtUp);
    }
  }

  private targetsOf(connection: ClientConnection): Target[] {
    const targets: Target[] = [{ kind: 'broadcast', ref: BROADCAST_STREAM }];
    if (connection.userId !== null) targets.push({ kind: 'user', ref: userStream(connection.userId) });
    return targets;
  }

  /** A catch-up from the client's position, or (none given) a read of the stream's position only. */
  private catchUpOf(connection: ClientConnection, target: Target, from: ClientPosition | undefined): Pick<StreamCatchUp, 'start' | 'finish'> {
    if (from === undefined) return positionOnly(this.history, target.ref);
    const forUser = target.kind === 'task' ? (connection.userId ?? undefined) : undefined;
    const sentFrom = this.startsOf(connection).get(connectionStreamKey(target.ref));
    return new StreamCatchUp(this.pages, target.ref, from, sentFrom, { page: CATCH_UP_PAGE, ttlMs: this.ttlMs, forUser });
  }

  /** Sends what the stream's catch-up finds, its `resumed` frame when the client gave a position, and records what the connection now has. */
  private async finish(connection: ClientConnection, target: Target, catchUp: Pick<StreamCatchUp, 'finish'>, caughtUp: Map<string, number>): Promise<StreamCatchUpResult & { reachedBack: boolean }> {
    const key = connectionStreamKey(target.ref);
    const result = await catchUp.finish({
      send: (entry) => this.connections.sendNow(connection, new PreparedFrame(entry.json, key, entry.offset)),
      paced: () => paced(connection.socket),
    });
    if (catchUp instanceof StreamCatchUp) this.sendResumed(connection, target, result);
    const starts = this.startsOf(connection);
    const known = starts.get(key);
    caughtUp.set(key, known === undefined ? result.through : Math.min(known, result.through));
    const sentFrom = result.sentFrom ?? known ?? result.position.offset;
    starts.set(key, known === undefined ? sentFrom : Math.min(known, sentFrom));
    return { ...result, reachedBack: result.sentFrom !== undefined && (known === undefined || result.sentFrom < known) };
  }

  private sendResumed(connection: ClientConnection, target: Target, result: StreamCatchUpResult): void {
    const resumed: ResumedFrame = {
      type: 'resumed',
      stream: target.kind,
      ...(target.taskId !== undefined && { task_id: target.taskId }),
      recovered: result.recovered,
      epoch: result.position.epoch,
      offset: result.position.offset,
      missed: result.missed,
      timestamp: epochSeconds(),
    };
    this.connections.sendFrameNow(connection, resumed);
  }

  private startsOf(connection: ClientConnection): StreamOffsets {
    connection.streamStarts ??= new StreamOffsets();
    return connection.streamStarts;
  }
}

/** The stream's position, for a stream the client gave no position for: nothing to send. */
function positionOnly(history: HistoryStore, ref: StreamRef): Pick<StreamCatchUp, 'start' | 'finish'> {
  let read: Promise<StreamPosition> | undefined;
  const start = () => (read ??= history.position(ref));
  return {
    start,
    finish: async () => {
      const position = await start();
      return { position, recovered: false, missed: 0, sentFrom: undefined, through: position.offset };
    },
  };
}

/** Resolves once the socket's unsent bytes are down to CATCH_UP_PACE_BYTES; false if it closed. */
async function paced(socket: WebSocket): Promise<boolean> {
  while (socket.readyState === WebSocket.OPEN && socket.bufferedAmount > CATCH_UP_PACE_BYTES) {
    await new Promise((resolve) => setTimeout(resolve, PACE_POLL_MS));
  }
  return socket.readyState === WebSocket.OPEN;
}
