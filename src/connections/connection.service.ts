import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUuid } from '../common/random-uuid.js';
import { WebSocket } from 'ws';
import { SetIndex } from '../common/set-index.js';
import { performance } from 'node:perf_hooks';
import type { Environment } from '../config/environment.js';
import { CloseCode } from '../protocol/close-code.enum.js';
import { ErrorCode } from '../protocol/error-code.enum.js';
import { errorFrame, ErrorFrame } from '../protocol/server-frames.js';
import { type ClientConnection, NO_GROUPS, NO_HANDLERS, NO_TASKS, socketLogFields } from './client-connection.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ExpiryBuckets } from './expiry-buckets.js';
import { connectionStreamKey, taskStream } from '../history/history.store.js';
import { PreparedFrame, writePrepared } from './prepared-frame.js';
import { StreamOffsets } from './stream-offsets.js';

export interface ConnectionStats {
  active: number;
  total: number;
  failed: number;
  messagesSent: number;
  messagesFailed: number;
  reaped: number;
  slowConsumers: number;
  rateLimitedFrames: number;
  floodClosed: number;
  errorFrames: Record<string, number>;
  /** Refused connections by reason: the error code of a refused upgrade, or capacity_exceeded. */
  refused: Record<string, number>;
}

/** Who the socket belongs to, settled at upgrade time. */
export interface ConnectionIdentity {
  userId: string | null;
  /** The user's groups (token claim AUTH_GROUPS_CLAIM, or ?groups= with AUTH_MODE=none); approvers may be named by group. */
  groups?: readonly string[];
  /** Epoch ms when the connection's token expires, if it does. */
  expiresAt: number | null;
}

const RATE_ERROR_INTERVAL_MS = 1000;
/** Refused frames are counted over this window; WEBSOCKET_RATE_ABUSE_LIMIT of them close the connection. */
const ABUSE_WINDOW_MS = 10_000;
const CLOSE_HANDSHAKE_GRACE_MS = 1000;
const TOKEN_EXPIRY_TICK_MS = 1000;

/**
 * Starts the close handshake and cuts the socket off if the peer has not finished it in
 * time (it may not be reading at all), so no closed connection lingers outside the limits.
 */
/** A user's (or task's) first connection here arrived, or its last one left. */
export interface MembershipChange {
  kind: 'user' | 'task' | 'group';
  id: string;
  present: boolean;
}

/** A connection stopped counting for its user (it closed, or took another user). */
export interface DepartedConnection {
  userId: string;
  connectionId: string;
}

function isBelowFloor(connection: ClientConnection, floors: StreamOffsets, frame: PreparedFrame): boolean {
  const floor = frame.stream === undefined ? undefined : floors.get(frame.stream);
  if (floor === undefined || frame.offset === undefined) return false;
  if (frame.offset <= floor) return true;
  floors.delete(frame.stream as string);
  if (floors.size === 0) connection.floors = null;
  return false;
}

function isCovered(frame: PreparedFrame, caughtUp: ReadonlyMap<string, number>): boolean {
  if (frame.stream === undefined || frame.offset === undefined) return false;
  const upTo = caughtUp.get(frame.stream);
  return upTo !== undefined && frame.offset <= upTo;
}

/** A listener that hands the socket it was called on (`this`) to `handle`. */
function socketListener<A extends unknown[]>(handle: (socket: WebSocket, ...args: A) => void): (this: WebSocket, ...args: A) => void {
  return function (this: WebSocket, ...args: A): void {
    handle(this, ...args);
  };
}

export function closeSocket(socket: WebSocket, code: CloseCode, reason: string): void {
  socket.close(code, reason);
  setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_GRACE_MS).unref();
}

/**
 * The registry of open sockets on this instance: who they belong to, which tasks they
 * follow, and the counters the status endpoint reports. Every frame to a socket goes
 * through `send`, which also enforces the slow-consumer limit. A connection is removed
 * when its socket closes. Sockets that stop answering keepalive pings are reaped by one
 * sweep timer for all of them, and sockets whose token expires are closed by one tick.
 */
@Injectable()
export class ConnectionService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ConnectionService.name);
  private readonly connections = new Map<string, ClientConnection>();
  private readonly bySocket = new WeakMap<WebSocket, ClientConnection>();
  private readonly byUser = new SetIndex<ClientConnection>();
  private readonly byTask = new SetIndex<ClientConnection>();
  private readonly byGroup = new SetIndex<ClientConnection>();
  private readonly membershipListeners: Array<(change: MembershipChange) => void> = [];
  private readonly departureListeners: Array<(departed: DepartedConnection) => void> = [];
  private readonly counters = {
    total: 0,
    failed: 0,
    messagesSent: 0,
    messagesFailed: 0,
    reaped: 0,
    slowConsumers: 0,
    rateLimitedFrames: 0,
    floodClosed: 0,
  };
  private readonly errorFrames: Record<string, number> = {};
  private readonly refused: Record<string, number> = {};
  private readonly tokenExpiries = new ExpiryBuckets<ClientConnection>(performance.now());
  private sweepTimer?: NodeJS.Timeout;
  private readonly rttListeners: Array<(rttMs: number) => void> = [];
  private tokenExpiryTimer?: NodeJS.Timeout;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly maxBufferedBytes: number;
  private readonly framesPerMs: number;
  private readonly frameBurst: number;
  private readonly abuseLimit: number;

  constructor(
    config: ConfigService<Environment, true>,
    private readonly metrics: MetricsService,
  ) {
    this.pingIntervalMs = config.get('WEBSOCKET_PING_INTERVAL', { infer: true }) * 1000;
    this.pingTimeoutMs = config.get('WEBSOCKET_PING_TIMEOUT', { infer: true }) * 1000;
    this.maxBufferedBytes = config.get('WEBSOCKET_MAX_BUFFERED_BYTES', { infer: true });
    this.framesPerMs = config.get('WEBSOCKET_RATE_LIMIT', { infer: true }) / 1000;
    this.frameBurst = config.get('WEBSOCKET_RATE_BURST', { infer: true });
    this.abuseLimit = config.get('WEBSOCKET_RATE_ABUSE_LIMIT', { infer: true });
  }

  /** Called with every round trip measured from a keepalive ping, in ms. */
  onRtt(listener: (rttMs: number) => void): void {
    this.rttListeners.push(listener);
  }

  onModuleInit(): void {
    this.sweepTimer = setInterval(() => this.keepaliveSweep(), this.pingIntervalMs);
    this.sweepTimer.unref();
    this.tokenExpiryTimer = setInterval(() => this.closeExpiredTokens(performance.now()), TOKEN_EXPIRY_TICK_MS);
    this.tokenExpiryTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
    clearInterval(this.tokenExpiryTimer);
  }

  get count(): number {
    return this.connections.size;
  }

  register(socket: WebSocket, identity: ConnectionIdentity): ClientConnection {
    const now = Date.now();
    const monotonicNow = performance.now();
    const connection: ClientConnection = {
      id: randomUuid(),
      socket,
      connectedAt: now,
      tokenExpiresAtMonotonic: identity.expiresAt === null ? null : monotonicNow + (identity.expiresAt - now),
      userId: null,
      // Groups belong to a user: an anonymous connection has none.
      groups: identity.userId !== null && identity.groups && identity.groups.length > 0 ? identity.groups : NO_GROUPS,
      tasks: NO_TASKS,
      pingSentAt: null,
      frameTokens: this.frameBurst,
      tokensRefilledAt: monotonicNow,
      refusedInWindow: 0,
      abuseWindowStartedAt: monotonicNow,
      lastRateErrorAt: -Infinity,
      held: null,
      heldBytes: 0,
      floors: null,
      holds: 0,
      streamStarts: null,
      rttMs: null,
      actions: NO_HANDLERS,
      handlers: NO_HANDLERS,
      framesIn: 0,
      framesOut: 0,
    };
    this.connections.set(connection.id, connection);
    this.bySocket.set(socket, connection);
    this.counters.total++;
    if (identity.userId !== null) this.identify(connection, identity.userId);
    for (const group of connection.groups) if (this.byGroup.add(group, connection)) this.announce('group', group, true);
    if (connection.tokenExpiresAtMonotonic !== null) this.tokenExpiries.add(connection, connection.tokenExpiresAtMonotonic);
    socket.on('pong', this.pongListener);
    socket.on('close', this.closeListener);
    this.logger.debug(socketLogFields(connection), 'Connection opened');
    return connection;
  }

  /**
   * One pong and one close listener for every socket, called with the socket as `this`:
   * a closure per socket and event would cost every idle connection a function and its
   * context (and Node 24's once() another closure on top).
   */
  private readonly pongListener = socketListener((socket) => {
    const connection = this.bySocket.get(socket);
    if (connection !== undefined) this.onPong(connection);
  });

  private readonly closeListener = socketListener((socket, code: number) => {
    const connection = this.bySocket.get(socket);
    if (connection === undefined) return;
    this.logger.debug({ ...socketLogFields(connection), code }, 'Connection closed');
    this.unregister(connection);
  });

  connectionOf(socket: WebSocket): ClientConnection | undefined {
    return this.bySocket.get(socket);
  }

  byId(id: string): ClientConnection | undefined {
    return this.connections.get(id);
  }

  recordRefusedConnection(reason: string): void {
    this.counters.failed++;
    this.refused[reason] = (this.refused[reason] ?? 0) + 1;
  }

  /**
   * Called when this instance gets its first connection of a user (or subscriber of a
   * task) and when its last one goes: cluster delivery follows the user's channel then.
   */
  onMembershipChange(listener: (change: MembershipChange) => void): void {
    this.membershipListeners.push(listener);
  }

  identify(connection: ClientConnection, userId: string): void {
    if (connection.userId !== null) this.leaveUser(connection, connection.userId);
    connection.userId = userId;
    if (this.byUser.add(userId, connection)) this.announce('user', userId, true);
  }

  subscribeTask(connection: ClientConnection, taskId: string): void {
    if (connection.tasks === NO_TASKS) connection.tasks = new Set([taskId]);
    else (connection.tasks as Set<string>).add(taskId);
    if (this.byTask.add(taskId, connection)) this.announce('task', taskId, true);
  }

  unsubscribeTask(connection: ClientConnection, taskId: string): void {
    if (connection.tasks !== NO_TASKS) (connection.tasks as Set<string>).delete(taskId);
    // Not following the task, it stops being sent the task's frames: a later subscribe starts afresh.
    connection.streamStarts?.delete(connectionStreamKey(taskStream(taskId)));
    if (this.byTask.delete(taskId, connection)) this.announce('task', taskId, false);
  }

  connectionsOfUser(userId: string): ReadonlySet<ClientConnection> {
    return this.byUser.get(userId);
  }

  subscribersOfTask(taskId: string): ReadonlySet<ClientConnection> {
    return this.byTask.get(taskId);
  }

  connectionsOfGroup(group: string): ReadonlySet<ClientConnection> {
    return this.byGroup.get(group);
  }

  all(): IterableIterator<ClientConnection> {
    return this.connections.values();
  }

  /**
   * Sends an already framed message; false when the socket could not take it. A client
   * that has stopped reading is closed once its unsent data passes the limit, so it cannot
   * grow server memory; what it missed (pending confirmations) waits for its next connection.
   */
  send(connection: ClientConnection, frame: PreparedFrame): boolean {
    if (connection.floors !== null && frame.offset !== undefined && isBelowFloor(connection, connection.floors, frame)) return true;
    if (connection.held !== null) {
      connection.held.push(frame);
      connection.heldBytes += frame.bytes.length;
      // A client that stops reading during its catch-up keeps it waiting: what piles up
      // for it meanwhile is bounded as if it had been sent.
      if (connection.heldBytes + connection.socket.bufferedAmount > this.maxBufferedBytes) {
        this.closeSlowConsumer(connection);
        this.counters.messagesFailed++;
        return false;
      }
      return true;
    }
    return this.sendNow(connection, frame);
  }

  /** Sends even while frames are held: what a catch-up itself sends. */
  sendNow(connection: ClientConnection, frame: PreparedFrame): boolean {
    const { socket } = connection;
    if (socket.readyState !== WebSocket.OPEN) {
      this.counters.messagesFailed++;
      return false;
    }
    if (socket.bufferedAmount > this.maxBufferedBytes) {
      this.closeSlowConsumer(connection);
      this.counters.messagesFailed++;
      return false;
    }
    writePrepared(socket, frame);
    this.counters.messagesSent++;
    connection.framesOut++;
    return true;
  }

  sendFrame(connection: ClientConnection, frame: object): boolean {
    if ((frame as ErrorFrame).type === 'error') this.countError((frame as ErrorFrame).code);
    return this.send(connection, new PreparedFrame(JSON.stringify(frame)));
  }

  /** Like sendFrame, even while frames are held. */
  sendFrameNow(connection: ClientConnection, frame: object): boolean {
    if ((frame as ErrorFrame).type === 'error') this.countError((frame as ErrorFrame).code);
    return this.sendNow(connection, new PreparedFrame(JSON.stringify(frame)));
  }

  /**
   * Holds the connection's live frames back while it catches up on history, so what it
   * missed comes before what is new. Every hold is ended by one `release`.
   */
  hold(connection: ClientConnection): void {
    connection.holds++;
    connection.held ??= [];
  }

  /**
   * Ends a hold. `caughtUp` maps a stream key to the offset the catch-up sent up to: held
   * frames of that stream at or below it were sent already (or were before the client's
   * starting position) and are dropped. The rest go out when the last hold ends.
   */
  release(connection: ClientConnection, caughtUp: ReadonlyMap<string, number>): void {
    const held = connection.held;
    if (held === null) return;
    const kept = caughtUp.size === 0 ? held : held.filter((frame) => !isCovered(frame, caughtUp));
    for (const [stream, offset] of caughtUp) (connection.floors ??= new StreamOffsets()).set(stream, offset);
    if (--connection.holds > 0) {
      connection.held = kept;
      connection.heldBytes = kept.reduce((bytes, frame) => bytes + frame.bytes.length, 0);
      return;
    }
    connection.held = null;
    connection.heldBytes = 0;
    for (const frame of kept) this.sendNow(connection, frame);
  }

  /** Closes a connection with an application code and forgets it at once. */
  close(connection: ClientConnection, code: CloseCode, reason: string): void {
    closeSocket(connection.socket, code, reason);
    this.unregister(connection);
  }

  /**
   * Token bucket per connection: WEBSOCKET_RATE_LIMIT frames a second on average, bursts
   * up to WEBSOCKET_RATE_BURST. A refused frame gets at most one `rate_limited` error a
   * second (so a flood cannot make the server flood back); WEBSOCKET_RATE_ABUSE_LIMIT
   * refusals within 10 s close the connection with 1008.
   */
  admitFrame(connection: ClientConnection, now = performance.now()): boolean {
    connection.framesIn++;
    const refill = (now - connection.tokensRefilledAt) * this.framesPerMs;
    connection.frameTokens = Math.min(this.frameBurst, connection.frameTokens + refill);
    connection.tokensRefilledAt = now;
    if (connection.frameTokens >= 1) {
      connection.frameTokens -= 1;
      return true;
    }
    this.counters.rateLimitedFrames++;
    if (now - connection.abuseWindowStartedAt >= ABUSE_WINDOW_MS) {
      connection.abuseWindowStartedAt = now;
      connection.refusedInWindow = 0;
    }
    if (++connection.refusedInWindow >= this.abuseLimit) {
      this.counters.floodClosed++;
      this.logger.warn(socketLogFields(connection), 'Closing connection: sustained flooding');
      this.close(connection, CloseCode.PolicyViolation, 'Rate limit exceeded');
    } else if (now - connection.lastRateErrorAt >= RATE_ERROR_INTERVAL_MS) {
      connection.lastRateErrorAt = now;
      this.sendFrame(connection, errorFrame(ErrorCode.RateLimited, 'Too many frames; slow down'));
    }
    return false;
  }

  stats(): ConnectionStats {
    return { active: this.connections.size, ...this.counters, errorFrames: { ...this.errorFrames }, refused: { ...this.refused } };
  }

  private countError(code: string): void {
    this.errorFrames[code] = (this.errorFrames[code] ?? 0) + 1;
  }

  private closeSlowConsumer(connection: ClientConnection): void {
    this.counters.slowConsumers++;
    this.logger.warn({ ...socketLogFields(connection), unsentBytes: connection.socket.bufferedAmount }, 'Closing slow consumer');
    this.close(connection, CloseCode.TryAgainLater, 'Too slow: unsent data over the limit');
  }

  private unregister(connection: ClientConnection): void {
    if (!this.connections.delete(connection.id)) return;
    if (connection.tokenExpiresAtMonotonic !== null) {
      this.tokenExpiries.delete(connection, connection.tokenExpiresAtMonotonic);
    }
    if (connection.userId !== null) this.leaveUser(connection, connection.userId);
    for (const taskId of connection.tasks) {
      if (this.byTask.delete(taskId, connection)) this.announce('task', taskId, false);
    }
    for (const group of connection.groups) if (this.byGroup.delete(group, connection)) this.announce('group', group, false);
  }

  /** Called for every connection that stops counting for its user. */
  onUserConnectionGone(listener: (departed: DepartedConnection) => void): void {
    this.departureListeners.push(listener);
  }

  private leaveUser(connection: ClientConnection, userId: string): void {
    if (this.byUser.delete(userId, connection)) this.announce('user', userId, false);
    for (const listener of this.departureListeners) listener({ userId, connectionId: connection.id });
  }

  private announce(kind: MembershipChange['kind'], id: string, present: boolean): void {
    for (const listener of this.membershipListeners) listener({ kind, id, present });
  }

  /**
   * Pings every connection that has no ping outstanding and terminates those whose
   * ping went unanswered for longer than the timeout. A follow-up pass after the
   * timeout catches the ones pinged now, so a dead peer goes within interval + timeout.
   */
  private keepaliveSweep(): void {
    const now = Date.now();
    for (const connection of this.connections.values()) {
      if (connection.pingSentAt === null) {
        connection.pingSentAt = now;
        connection.socket.ping();
      }
    }
    this.reapUnresponsiveAfterPendingIo();
    setTimeout(() => this.reapUnresponsiveAfterPendingIo(), this.pingTimeoutMs).unref();
  }

  /**
   * Timers run before socket reads: after a stall (GC, a busy CPU) a pong that arrived in
   * time may still be unread when the timer fires. So the deadline is taken now, and the
   * check runs after the socket reads (setImmediate): a ping overdue now counts as missed
   * only if no pong that had arrived by now turns up.
   */
  private reapUnresponsiveAfterPendingIo(): void {
    const now = Date.now();
    setImmediate(() => this.reapUnresponsive(now)).unref();
  }

  /** The keepalive pings the sweep sends already measure each connection's round trip. */
  private onPong(connection: ClientConnection): void {
    if (connection.pingSentAt === null) return;
    const rtt = Date.now() - connection.pingSentAt;
    connection.pingSentAt = null;
    connection.rttMs = rtt;
    this.metrics.observeRtt(rtt / 1000);
    for (const listener of this.rttListeners) listener(rtt);
  }

  private closeExpiredTokens(now: number): void {
    for (const connection of this.tokenExpiries.takeDue(now)) {
      closeSocket(connection.socket, CloseCode.TokenExpired, 'Token expired');
    }
  }

  private reapUnresponsive(now: number): void {
    for (const connection of this.connections.values()) {
      if (connection.pingSentAt !== null && now - connection.pingSentAt >= this.pingTimeoutMs) {
        this.counters.reaped++;
        this.logger.debug(socketLogFields(connection), 'Terminating unresponsive connection');
        connection.socket.terminate();
        this.unregister(connection);
      }
    }
  }
}
