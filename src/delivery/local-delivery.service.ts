import { Injectable } from '@nestjs/common';
import type { ClientConnection } from '../connections/client-connection.js';
import type { Confirmation } from '../confirmations/confirmation.js';
import { ConnectionService } from '../connections/connection.service.js';
import { type ConnectionFilter, type ConnectionListing, type ConnectionView, connectionView } from '../connections/connection-view.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import { PreparedFrame } from '../connections/prepared-frame.js';
import { jsonOf, keptJsonOf } from '../protocol/frame-json.js';
import { CloseCode } from '../protocol/close-code.enum.js';
import { BROADCAST_STREAM, connectionStreamKey, HistoryStore, StreamRef, taskStream, userStream } from '../history/history.store.js';
import { MemoryHistoryStore } from '../history/memory-history.store.js';
import { Audience, DeliveryService, ResolutionEvent } from './delivery.service.js';

/** A frame of a stream, with its offset, before it is framed for the sockets. */
export class StreamFrame {
  constructor(
    readonly json: string,
    readonly stream: string,
    readonly offset: number,
  ) {}
}

function prepare(frame: object | string | StreamFrame): PreparedFrame {
  if (frame instanceof StreamFrame) return new PreparedFrame(frame.json, frame.stream, frame.offset);
  return new PreparedFrame(typeof frame === 'string' ? frame : JSON.stringify(frame));
}

/** Delivers to the sockets of this instance only. */
@Injectable()
export class LocalDeliveryService extends DeliveryService {
  readonly isShared: boolean = false;
  private readonly resolutionListeners: Array<(event: ResolutionEvent) => void> = [];
  /** The in-process history, when it is on (cluster delivery keeps history in Redis). */
  private readonly memory?: MemoryHistoryStore;

  constructor(
    protected readonly connections: ConnectionService,
    protected readonly history: HistoryStore,
    protected readonly identity: InstanceIdentity,
    private readonly metrics: MetricsService,
  ) {
    super();
    if (history instanceof MemoryHistoryStore && history.enabled) this.memory = history;
  }

  async deliver(audience: Audience, frame: object): Promise<number> {
    const acceptedAt = audience.acceptedAt ?? Date.now();
    const delivered = this.deliverAndKeep(audience, frame);
    this.observeDelivered(acceptedAt, delivered);
    return delivered;
  }

  private deliverAndKeep(audience: Audience, frame: object): number {
    const memory = this.memory;
    if (!memory) return this.deliverHere(audience, keptJsonOf(frame) ?? frame);
    const json = jsonOf(frame);
    const except = audience.exceptConnectionId;
    if (audience.everyone) return this.deliverHere({ everyone: true, exceptConnectionId: except }, this.kept(BROADCAST_STREAM, memory, json));
    const userIds = audience.userIds ?? [];
    let delivered = 0;
    for (const userId of userIds) {
      delivered += this.deliverHere({ userIds: [userId], exceptConnectionId: except }, this.kept(userStream(userId), memory, json));
    }
    for (const taskId of audience.taskIds ?? []) {
      const skip = userIds.length > 0 ? userIds : undefined;
      const prepared = this.kept(taskStream(taskId), memory, json, skip);
      delivered += this.deliverHere({ taskIds: [taskId], exceptConnectionId: except }, prepared, skip);
    }
    return delivered;
  }

  /** Appends to the stream; the result is framed on its first recipient, once for all. */
  private kept(stream: StreamRef, memory: MemoryHistoryStore, json: string, skipUsers?: readonly string[]): StreamFrame {
    const { offset, json: withOffset } = memory.appendNow(stream, json, skipUsers);
    return new StreamFrame(withOffset, connectionStreamKey(stream), offset);
  }

  /**
   * Writes the frame (an object, or its JSON) to this instance's connections of the
   * audience, leaving out the connections of `skipUsers`.
   */
  deliverHere(audience: Audience, frame: object | string | StreamFrame, skipUsers?: readonly string[]): number {
    const groups = this.recipientGroups(audience);
    // Only a connection in several groups (the user's and a task's) could come twice.
    const seen = groups.length > 1 ? new Set<ClientConnection>() : undefined;
    // Serialized on the first recipient: often there is none ("tell the other tabs").
    let prepared: PreparedFrame | undefined;
    let delivered = 0;
    for (const group of groups) {
      for (const connection of group) {
        if (connection.id === audience.exceptConnectionId || seen?.has(connection)) continue;
        if (skipUsers !== undefined && connection.userId !== null && skipUsers.includes(connection.userId)) continue;
        seen?.add(connection);
        prepared ??= prepare(frame);
        if (this.connections.send(connection, prepared)) delivered++;
      }
    }
    return delivered;
  }

  async announceResolution(settled: Confirmation, _waitingInstances: readonly string[]): Promise<void> {
    this.notifyResolution({ callbackId: settled.callbackId, confirmation: settled });
  }

  onResolution(listener: (event: ResolutionEvent) => void): void {
    this.resolutionListeners.push(listener);
  }

  async endTaskSubscriptions(userId: string, taskId: string): Promise<void> {
    this.endTaskSubscriptionsHere(userId, taskId);
  }

  async admitUserConnection(newest: ClientConnection, limit: number): Promise<void> {
    if (newest.userId === null) return;
    const others = [...this.connections.connectionsOfUser(newest.userId)].filter((c) => c !== newest);
    const excess = others.length + 1 - limit;
    for (const oldest of others.slice(0, Math.max(0, excess))) this.closeReplaced(oldest);
  }

  async userReachable(_userId: string): Promise<void> {}

  async taskReachable(_taskId: string): Promise<void> {}

  async broadcastReachable(): Promise<void> {}

  async listConnections(filter: ConnectionFilter): Promise<ConnectionListing> {
    return { instances: [this.identity.id], unreachable: [], ...this.connectionsHere(filter) };
  }

  /** Nothing shared can go away in memory mode. */
  onReconnect(_listener: () => void): void {}

  protected connectionsHere({ userId, limit }: ConnectionFilter): { connections: ConnectionView[]; truncated: boolean } {
    const open = userId !== undefined ? this.connections.connectionsOfUser(userId) : this.connections.all();
    const connections: ConnectionView[] = [];
    for (const connection of open) {
      if (connections.length === limit) return { connections, truncated: true };
      connections.push(connectionView(connection, this.identity.id));
    }
    return { connections, truncated: false };
  }

  /** Once per frame and instance, when it reached a socket here. */
  protected observeDelivered(acceptedAt: number, delivered: number): void {
    if (delivered > 0) this.metrics.observeDelivery((Date.now() - acceptedAt) / 1000);
  }

  protected closeReplaced(connection: ClientConnection): void {
    this.connections.close(connection, CloseCode.ReplacedByNewerConnection, 'Too many connections for this user');
  }

  protected notifyResolution(event: ResolutionEvent): void {
    for (const listener of this.resolutionListeners) listener(event);
  }

  protected endTaskSubscriptionsHere(userId: string, taskId: string): void {
    for (const connection of [...this.connections.connectionsOfUser(userId)]) this.connections.unsubscribeTask(connection, taskId);
  }

  /** Plain loops over these, not a generator: a broadcast walks every connection. */
  private recipientGroups(audience: Audience): Iterable<ClientConnection>[] {
    if (audience.everyone) return [this.connections.all()];
    const groups: Iterable<ClientConnection>[] = [];
    for (const id of audience.userIds ?? []) groups.push(this.connections.connectionsOfUser(id));
    for (const id of audience.taskIds ?? []) groups.push(this.connections.subscribersOfTask(id));
    return groups;
  }
}
