import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import type { Environment } from '../config/environment.js';
import { SetIndex } from '../common/set-index.js';
import type { ClientConnection } from './client-connection.js';

export interface ConnectionStats {
  active: number;
  total: number;
  failed: number;
  messagesSent: number;
  messagesFailed: number;
  reaped: number;
}

/**
 * The registry of open sockets on this instance: who they belong to, which tasks they
 * follow, and the counters the status endpoint reports. It removes a connection itself
 * when its socket closes, and reaps sockets that stop answering keepalive pings with
 * one sweep timer for all of them.
 */
@Injectable()
export class ConnectionService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ConnectionService.name);
  private readonly connections = new Map<string, ClientConnection>();
  private readonly bySocket = new WeakMap<WebSocket, ClientConnection>();
  private readonly byUser = new SetIndex<ClientConnection>();
  private readonly byTask = new SetIndex<ClientConnection>();
  private readonly counters = { total: 0, failed: 0, messagesSent: 0, messagesFailed: 0, reaped: 0 };
  private sweepTimer?: NodeJS.Timeout;
  private readonly pingTimeoutMs: number;
  private readonly pingIntervalMs: number;

  constructor(config: ConfigService<Environment, true>) {
    this.pingIntervalMs = config.get('WEBSOCKET_PING_INTERVAL', { infer: true }) * 1000;
    this.pingTimeoutMs = config.get('WEBSOCKET_PING_TIMEOUT', { infer: true }) * 1000;
  }

  onModuleInit(): void {
    this.sweepTimer = setInterval(() => this.keepaliveSweep(), this.pingIntervalMs);
    this.sweepTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
  }

  get count(): number {
    return this.connections.size;
  }

  register(socket: WebSocket, userId: string | null): ClientConnection {
    const connection: ClientConnection = {
      id: randomUUID(),
      socket,
      connectedAt: Date.now(),
      userId: null,
      tasks: new Set(),
      pingSentAt: null,
    };
    this.connections.set(connection.id, connection);
    this.bySocket.set(socket, connection);
    this.counters.total++;
    if (userId !== null) this.identify(connection, userId);
    socket.on('pong', () => (connection.pingSentAt = null));
    socket.once('close', () => this.unregister(connection));
    return connection;
  }

  connectionOf(socket: WebSocket): ClientConnection | undefined {
    return this.bySocket.get(socket);
  }

  recordRefusedConnection(): void {
    this.counters.failed++;
  }

  identify(connection: ClientConnection, userId: string): void {
    if (connection.userId !== null) this.byUser.delete(connection.userId, connection);
    connection.userId = userId;
    this.byUser.add(userId, connection);
  }

  subscribeTask(connection: ClientConnection, taskId: string): void {
    connection.tasks.add(taskId);
    this.byTask.add(taskId, connection);
  }

  unsubscribeTask(connection: ClientConnection, taskId: string): void {
    connection.tasks.delete(taskId);
    this.byTask.delete(taskId, connection);
  }

  connectionsOfUser(userId: string): ReadonlySet<ClientConnection> {
    return this.byUser.get(userId);
  }

  subscribersOfTask(taskId: string): ReadonlySet<ClientConnection> {
    return this.byTask.get(taskId);
  }

  all(): IterableIterator<ClientConnection> {
    return this.connections.values();
  }

  /** Sends an already serialized frame; false when the socket could not take it. */
  send(connection: ClientConnection, payload: string): boolean {
    if (connection.socket.readyState !== WebSocket.OPEN) {
      this.counters.messagesFailed++;
      return false;
    }
    connection.socket.send(payload);
    this.counters.messagesSent++;
    return true;
  }

  sendFrame(connection: ClientConnection, frame: object): boolean {
    return this.send(connection, JSON.stringify(frame));
  }

  stats(): ConnectionStats {
    return { active: this.connections.size, ...this.counters };
  }

  private unregister(connection: ClientConnection): void {
    if (!this.connections.delete(connection.id)) return;
    if (connection.userId !== null) this.byUser.delete(connection.userId, connection);
    for (const taskId of connection.tasks) this.byTask.delete(taskId, connection);
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
    this.reapUnresponsive(now);
    setTimeout(() => this.reapUnresponsive(Date.now()), this.pingTimeoutMs).unref();
  }

  private reapUnresponsive(now: number): void {
    for (const connection of this.connections.values()) {
      if (connection.pingSentAt !== null && now - connection.pingSentAt >= this.pingTimeoutMs) {
        this.counters.reaped++;
        this.logger.debug(`Terminating unresponsive connection ${connection.id}`);
        connection.socket.terminate();
        this.unregister(connection);
      }
    }
  }
}
