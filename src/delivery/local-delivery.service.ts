import { Logger } from '@nestjs/common';
import { Arrival, Broker, StreamFrame } from '../broker/broker.js';
import type { ClientConnection } from '../connections/client-connection.js';
import type { Confirmation } from '../confirmations/confirmation.js';
import { ConnectionService, MembershipChange } from '../connections/connection.service.js';
import { type ConnectionFilter, type ConnectionListing, type ConnectionView, connectionView } from '../connections/connection-view.js';
import { PreparedFrame } from '../connections/prepared-frame.js';
import { BROADCAST_STREAM, groupStream, StreamRef, taskStream, userStream } from '../history/history.store.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { Presence, PresentConnection } from '../presence/presence.js';
import { jsonOf } from '../protocol/frame-json.js';
import { CloseCode } from '../protocol/close-code.enum.js';
import { Audience, DeliveryService, ResolutionEvent } from './delivery.service.js';

function prepare(frame: object | string | StreamFrame): PreparedFrame {
  if (frame instanceof StreamFrame) return new PreparedFrame(frame.json, frame.stream, frame.offset);
  return new PreparedFrame(typeof frame === 'string' ? frame : jsonOf(frame));
}

/** The audience on this instance of one stream's frame. */
function audienceOf(arrival: Arrival): Audience {
  const { stream, exceptConnectionId } = arrival;
  if (stream.kind === 'broadcast') return { everyone: true, exceptConnectionId };
  if (stream.kind === 'group') return { groupIds: [stream.id], exceptConnectionId };
  return stream.kind === 'user' ? { userIds: [stream.id], exceptConnectionId } : { taskIds: [stream.id], exceptConnectionId };
}

/**
 * Delivery through the Broker: a frame goes to each of its streams (the users', the tasks',
 * or the broadcast), and what arrives here is written to this instance's sockets. On its own
 * this is the whole of delivery for one process (memory backend); the Redis backend adds
 * what instances tell each other (RedisDeliveryService).
 */
export class LocalDeliveryService extends DeliveryService {
  protected readonly logger = new Logger(DeliveryService.name);
  private readonly resolutionListeners: Array<(event: ResolutionEvent) => void> = [];

  constructor(
    protected readonly connections: ConnectionService,
    protected readonly broker: Broker,
    private readonly presence: Presence,
    protected readonly instanceId: string,
    private readonly metrics: MetricsService,
  ) {
    super();
    broker.onArrival((arrival) => this.arrived(arrival));
    connections.onMembershipChange((change) => this.follow(change));
    connections.onUserConnectionGone(({ userId, connectionId }) => void presence.leave(userId, connectionId).catch(() => undefined));
  }

  async deliver(audience: Audience, frame: object | string): Promise<number> {
    const acceptedAt = audience.acceptedAt ?? Date.now();
    const reached = await this.publish(audience, typeof frame === 'string' ? frame : jsonOf(frame), acceptedAt);
    this.observeDelivered(acceptedAt, reached);
    return reached;
  }

  /** One publication per stream of the audience; resolves to what the broker says each reached. */
  protected async publish(audience: Audience, json: string, acceptedAt: number): Promise<number> {
    const exceptConnectionId = audience.exceptConnectionId;
    if (audience.everyone) return this.broker.publish({ stream: BROADCAST_STREAM, json, exceptConnectionId, acceptedAt });
    const userIds = audience.userIds ?? [];
    const published: Array<Promise<number>> = [];
    for (const userId of userIds) published.push(this.broker.publish({ stream: userStream(userId), json, exceptConnectionId, acceptedAt }));
    // A subscriber who is also one of the users gets the frame on the user's stream only.
    const skipUsers = userIds.length > 0 ? userIds : undefined;
    for (const taskId of audience.taskIds ?? []) published.push(this.broker.publish({ stream: taskStream(taskId), json, skipUsers, exceptConnectionId, acceptedAt }));
    // Likewise a group member who is one of the users gets it once, on the user's stream.
    for (const group of audience.groupIds ?? []) published.push(this.broker.publish({ stream: groupStream(group), json, skipUsers, exceptConnectionId, acceptedAt }));
    // Most frames have one stream: no Promise.all on the hot path.
    if (published.length === 1) return published[0];
    let reached = 0;
    for (const count of await Promise.all(published)) reached += count;
    return reached;
  }

  /** A frame of a stream reached this instance: to its sockets of the stream. */
  protected arrived(arrival: Arrival): number {
    return this.deliverHere(audienceOf(arrival), arrival.frame, arrival.skipUsers);
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

  /** The user's connections are counted by the presence; the oldest past the limit close wherever they are. */
  async admitUserConnection(connection: ClientConnection, limit: number): Promise<void> {
    const userId = connection.userId;
    if (userId === null) return;
    try {
      for (const oldest of await this.presence.join(userId, connection.id, limit)) {
        if (oldest.instance === this.instanceId) this.closeIfHere(oldest.connectionId);
        else await this.closeElsewhere(userId, oldest);
      }
    } catch (err) {
      // Shared state away: the connection stays; the limit is enforced again on the next connect.
      this.logger.debug(`Per-user connection limit not checked now: ${(err as Error).message}`);
    }
  }

  /** A connection of another instance: only a backend with several instances has one. */
  protected async closeElsewhere(_userId: string, _oldest: PresentConnection): Promise<void> {}

  userReachable(userId: string): Promise<void> {
    return this.broker.reachable(userStream(userId));
  }

  taskReachable(taskId: string): Promise<void> {
    return this.broker.reachable(taskStream(taskId));
  }

  broadcastReachable(): Promise<void> {
    return this.broker.reachable(BROADCAST_STREAM);
  }

  async listConnections(filter: ConnectionFilter): Promise<ConnectionListing> {
    return { instances: [this.instanceId], unreachable: [], ...this.connectionsHere(filter) };
  }

  /** Nothing shared can go away in one process. */
  onReconnect(_listener: () => void): void {}

  protected connectionsHere({ userId, limit }: ConnectionFilter): { connections: ConnectionView[]; truncated: boolean } {
    const open = userId !== undefined ? this.connections.connectionsOfUser(userId) : this.connections.all();
    const connections: ConnectionView[] = [];
    for (const connection of open) {
      if (connections.length === limit) return { connections, truncated: true };
      connections.push(connectionView(connection, this.instanceId));
    }
    return { connections, truncated: false };
  }

  /** Once per frame and instance, when it reached a socket here. */
  protected observeDelivered(acceptedAt: number, delivered: number): void {
    if (delivered > 0) this.metrics.observeDelivery((Date.now() - acceptedAt) / 1000);
  }

  protected closeIfHere(connectionId: string): void {
    const connection = this.connections.byId(connectionId);
    if (connection) this.connections.close(connection, CloseCode.ReplacedByNewerConnection, 'Too many connections for this user');
  }

  protected notifyResolution(event: ResolutionEvent): void {
    for (const listener of this.resolutionListeners) listener(event);
  }

  protected endTaskSubscriptionsHere(userId: string, taskId: string): void {
    for (const connection of [...this.connections.connectionsOfUser(userId)]) this.connections.unsubscribeTask(connection, taskId);
  }

  /** Frames of a user's or task's stream reach this instance while it holds a member of it. */
  private follow(change: MembershipChange): void {
    const stream: StreamRef = change.kind === 'user' ? userStream(change.id) : change.kind === 'group' ? groupStream(change.id) : taskStream(change.id);
    if (change.present) void this.broker.subscribe(stream);
    else this.broker.unsubscribe(stream);
  }

  /** Plain loops over these, not a generator: a broadcast walks every connection. */
  private recipientGroups(audience: Audience): Iterable<ClientConnection>[] {
    if (audience.everyone) return [this.connections.all()];
    const groups: Iterable<ClientConnection>[] = [];
    for (const id of audience.userIds ?? []) groups.push(this.connections.connectionsOfUser(id));
    for (const id of audience.taskIds ?? []) groups.push(this.connections.subscribersOfTask(id));
    for (const id of audience.groupIds ?? []) groups.push(this.connections.connectionsOfGroup(id));
    return groups;
  }
}
