import { Injectable } from '@nestjs/common';
import type { ClientConnection } from '../connections/client-connection.js';
import { ConnectionService } from '../connections/connection.service.js';
import { PreparedFrame } from '../connections/prepared-frame.js';
import { BROADCAST_STREAM, connectionStreamKey, HistoryStore, Recovery, StreamPosition, StreamRef, taskStream, userStream } from '../history/history.store.js';
import type { ConnectedFrame, ResumedFrame, ResumedStream, SubscriptionConfirmedFrame } from '../protocol/server-frames.js';
import { epochSeconds } from '../protocol/server-frames.js';

/** A client's last position in one stream. */
export interface ClientPosition {
  epoch: string;
  offset: number;
}

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

/**
 * Brings a connection up to date with its streams. While it reads the history it holds
 * the connection's live frames back (ConnectionService.hold), sends what the client
 * missed, then the `resumed` frame, then the live frames it has not sent already, so the
 * client sees every frame once and in order.
 */
@Injectable()
export class CatchUpService {
  constructor(
    private readonly history: HistoryStore,
    private readonly connections: ConnectionService,
  ) {}

  get enabled(): boolean {
    return this.history.enabled;
  }

  /**
   * Sends `connected` with the streams' positions, then whatever a resuming client missed.
   * Resolves to true when the user's stream was recovered completely (nothing else to resend).
   */
  async open(connection: ClientConnection, connected: ConnectedFrame, request: ResumeRequest): Promise<boolean> {
    const targets = this.targetsOf(connection);
    this.connections.hold(connection);
    const caughtUp = new Map<string, number>();
    let sentConnected = false;
    try {
      const results = await Promise.all(targets.map((target) => this.read(connection, target, request[target.kind as 'user' | 'broadcast'])));
      for (const [i, target] of targets.entries()) {
        const { position } = results[i];
        if (target.kind === 'user') Object.assign(connected, { epoch: position.epoch, offset: position.offset });
        else Object.assign(connected, { broadcast_epoch: position.epoch, broadcast_offset: position.offset });
      }
      this.connections.sendFrameNow(connection, connected);
      sentConnected = true;
      let userRecovered = false;
      for (const [i, target] of targets.entries()) {
        const result = results[i];
        if (result.recovery) this.sendRecovery(connection, target, result.recovery);
        this.markCaughtUp(connection, target, result.position, caughtUp);
        if (target.kind === 'user') userRecovered = result.recovery?.recovered === true;
      }
      return userRecovered;
    } finally {
      if (!sentConnected) this.connections.sendFrameNow(connection, connected);
      this.connections.release(connection, caughtUp);
    }
  }

  /**
   * The `resume` frame. Frames already sent live on this connection (after its start
   * position) are not sent again; missed ones come after them when some were.
   */
  async resume(connection: ClientConnection, request: ResumeRequest): Promise<boolean> {
    const targets = this.targetsOf(connection).filter((target) => request[target.kind as 'user' | 'broadcast'] !== undefined);
    this.connections.hold(connection);
    const caughtUp = new Map<string, number>();
    try {
      let userRecovered = false;
      for (const target of targets) {
        const { position, recovery } = await this.read(connection, target, request[target.kind as 'user' | 'broadcast']);
        if (recovery) this.sendRecovery(connection, target, recovery);
        this.markCaughtUp(connection, target, position, caughtUp);
        if (target.kind === 'user') userRecovered = recovery?.recovered === true;
      }
      return userRecovered;
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
   * gave its last one, the task frames it missed and a `resumed` frame.
   */
  async followTask(connection: ClientConnection, taskId: string, reply: SubscriptionConfirmedFrame, from?: ClientPosition): Promise<void> {
    const target: Target = { kind: 'task', ref: taskStream(taskId), taskId };
    connection.streamStarts?.delete(connectionStreamKey(target.ref));
    this.connections.hold(connection);
    const caughtUp = new Map<string, number>();
    let replied = false;
    try {
      const { position, recovery } = await this.read(connection, target, from);
      reply.task_epoch = position.epoch;
      reply.task_offset = position.offset;
      this.connections.sendFrameNow(connection, reply);
      replied = true;
      if (recovery) this.sendRecovery(connection, target, recovery);
      this.markCaughtUp(connection, target, position, caughtUp);
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

  private async read(connection: ClientConnection, target: Target, from: ClientPosition | undefined): Promise<{ position: StreamPosition; recovery?: Recovery }> {
    if (from === undefined) return { position: await this.history.position(target.ref) };
    const forUser = target.kind === 'task' ? (connection.userId ?? undefined) : undefined;
    const recovery = await this.history.recover(target.ref, from.epoch, from.offset, forUser);
    return { position: recovery.position, recovery };
  }

  private sendRecovery(connection: ClientConnection, target: Target, recovery: Recovery): void {
    const key = connectionStreamKey(target.ref);
    const liveAfter = connection.streamStarts?.get(key);
    let missed = 0;
    for (const frame of recovery.frames) {
      if (liveAfter !== undefined && frame.offset > liveAfter) continue;
      this.connections.sendNow(connection, new PreparedFrame(frame.json, key, frame.offset));
      missed++;
    }
    const resumed: ResumedFrame = {
      type: 'resumed',
      stream: target.kind,
      ...(target.taskId !== undefined && { task_id: target.taskId }),
      recovered: recovery.recovered,
      epoch: recovery.position.epoch,
      offset: recovery.position.offset,
      missed,
      timestamp: epochSeconds(),
    };
    this.connections.sendFrameNow(connection, resumed);
  }

  /**
   * Held frames up to the position are dropped: the catch-up sent them, or they precede
   * the client's start. On a connection that was live already, only those up to where it
   * went live: later ones were not part of the catch-up.
   */
  private markCaughtUp(connection: ClientConnection, target: Target, position: StreamPosition, caughtUp: Map<string, number>): void {
    const key = connectionStreamKey(target.ref);
    const starts = this.startsOf(connection);
    const liveAfter = starts.get(key);
    caughtUp.set(key, liveAfter === undefined ? position.offset : Math.min(liveAfter, position.offset));
    if (liveAfter === undefined) starts.set(key, position.offset);
  }

  private startsOf(connection: ClientConnection): Map<string, number> {
    connection.streamStarts ??= new Map();
    return connection.streamStarts;
  }
}
