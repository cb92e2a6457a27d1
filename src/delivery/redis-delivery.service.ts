import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConnectionService, MembershipChange } from '../connections/connection.service.js';
import type { ClientConnection } from '../connections/client-connection.js';
import type { Confirmation } from '../confirmations/confirmation.js';
import type { ConnectionFilter, ConnectionListing, ConnectionView } from '../connections/connection-view.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import { InstanceRegistry } from '../redis/instance-registry.service.js';
import { RedisService } from '../redis/redis.service.js';
import { BROADCAST_STREAM, HistoryStore, StreamRef, taskStream, userStream } from '../history/history.store.js';
import { RedisHistoryStore } from '../history/redis-history.store.js';
import { Audience, ResolutionEvent } from './delivery.service.js';
import { LocalDeliveryService, StreamFrame } from './local-delivery.service.js';
import { RedisPresence } from './redis-presence.js';
import { jsonOf } from '../protocol/frame-json.js';

/** What travels before the frame on a channel: who to leave out, or a control instruction. */
interface Envelope {
  /** Connection to leave out. */
  x?: string;
  /** Users whose connections get the frame through their own channel already. */
  s?: string[];
  /** Control: end this user's subscriptions to the task. */
  revoke?: string;
  /** Control (instance channel): this confirmation was settled, with the record as stored. */
  resolved?: Confirmation;
  /** Control: close this connection of the user (replaced by a newer one elsewhere). */
  close?: string;
  /** The frame's offset in its stream (set by the history script). */
  o?: number;
  /** When the request that caused the frame was accepted (epoch ms): delivery latency. */
  t?: number;
  /** Control (instance channel): list your connections (as `filter` says) to instance `from`. */
  list?: { id: string; from: string; filter: ConnectionFilter };
  /** Control (instance channel): instance `by` answers listing `listed`; the frame is its connections. */
  listed?: string;
  by?: string;
}

/** How long start-up waits for the broadcast and instance channels before listening anyway. */
const STARTUP_SUBSCRIBE_WAIT_MS = 2000;

/** How long GET /connections waits for the other instances' answers. */
const LISTING_TIMEOUT_MS = 1000;

interface PendingListing {
  waitingFor: Set<string>;
  connections: ConnectionView[];
  truncated: boolean;
  answered: string[];
  done: () => void;
}

/** One instance's answer to a listing. */
interface ListingAnswer {
  connections: ConnectionView[];
  truncated: boolean;
}

type Route = { kind: 'user' | 'task'; id: string } | { kind: 'everyone' } | { kind: 'instance' };

/**
 * Cluster delivery over Redis pub/sub, as Centrifugo and Socket.IO's sharded adapter do it:
 * a channel per user and per task, which an instance subscribes to only while it holds a
 * connection of that user (or a subscriber of that task), one broadcast channel, and one
 * channel per instance for wake-ups of waiting callers. A frame for one user costs nothing
 * on instances without that user. Messages are `<envelope JSON>\n<frame JSON>`, so an
 * instance writes the frame to its sockets without parsing it.
 *
 * Pub/sub is at most once: nothing correct depends on a message arriving. Prompts and
 * decisions are in Redis; after a reconnect every listener re-reads what it may have missed.
 */
@Injectable()
export class RedisDeliveryService extends LocalDeliveryService implements OnApplicationBootstrap {
  override readonly isShared = true;
  private readonly logger = new Logger(RedisDeliveryService.name);
  private readonly routes = new Map<string, Route>();
  private readonly subscriptions = new Map<string, Promise<void>>();
  private readonly reconnectListeners: Array<() => void> = [];
  private readonly broadcastChannel: string;
  private readonly ownChannel: string;
  /** Frames this instance received per route kind: shows that targeted frames skip other instances. */
  readonly received = { user: 0, task: 0, everyone: 0, instance: 0 };
  private everReady = false;
  private readonly presence: RedisPresence;
  /** The stream history, when it is on: then every frame is appended and published by one script. */
  private readonly streams?: RedisHistoryStore;
  private readonly listings = new Map<string, PendingListing>();

  constructor(
    connections: ConnectionService,
    private readonly redis: RedisService,
    identity: InstanceIdentity,
    history: HistoryStore,
    metrics: MetricsService,
    private readonly registry: InstanceRegistry,
  ) {
    super(connections, history, identity, metrics);
    if (history instanceof RedisHistoryStore && history.enabled) this.streams = history;
    this.broadcastChannel = redis.channel('broadcast');
    this.ownChannel = redis.channel('instance', identity.id);
    this.routes.set(this.broadcastChannel, { kind: 'everyone' });
    this.routes.set(this.ownChannel, { kind: 'instance' });
    connections.onMembershipChange((change) => this.follow(change));
    connections.onUserConnectionGone((departed) => void this.presence.leave(departed).catch(() => undefined));
    this.presence = new RedisPresence(redis, identity.id);
    redis.subscriber.on('message', (channel: string, message: string) => this.receive(channel, message));
    // Nest builds providers asynchronously: the subscriber may be connected already.
    this.everReady = redis.subscriber.status === 'ready';
    redis.subscriber.on('ready', () => this.resubscribeAll());
  }

  /**
   * Subscribes to broadcasts and to this instance's own channel before the server listens,
   * so a ready instance hears broadcasts, wake-ups and listings from its first request. With
   * Redis away it starts anyway after a short wait; the reconnect subscribes then.
   */
  async onApplicationBootstrap(): Promise<void> {
    const subscribed = Promise.all([this.subscribe(this.broadcastChannel), this.subscribe(this.ownChannel)]);
    await Promise.race([subscribed, new Promise((resolve) => setTimeout(resolve, STARTUP_SUBSCRIBE_WAIT_MS).unref())]);
  }

  override async deliver(audience: Audience, frame: object): Promise<number> {
    const json = jsonOf(frame);
    const x = audience.exceptConnectionId;
    const t = audience.acceptedAt ?? Date.now();
    if (audience.everyone) return this.send(BROADCAST_STREAM, this.broadcastChannel, { x, t }, json);
    const userIds = audience.userIds ?? [];
    const published: Array<Promise<number>> = [];
    for (const userId of userIds) published.push(this.send(userStream(userId), this.redis.channel('user', userId), { x, t }, json));
    // A subscriber who is also one of the users gets the frame on the user's channel only.
    const skip = userIds.length > 0 ? [...userIds] : undefined;
    for (const taskId of audience.taskIds ?? []) {
      published.push(this.send(taskStream(taskId), this.redis.channel('task', taskId), { x, s: skip, t }, json));
    }
    let reached = 0;
    for (const count of await Promise.all(published)) reached += count;
    return reached;
  }

  override async announceResolution(settled: Confirmation, waitingInstances: readonly string[]): Promise<void> {
    this.notifyResolution({ callbackId: settled.callbackId, confirmation: settled });
    const others = waitingInstances.filter((id) => id !== this.identity.id);
    if (others.length === 0) return;
    const wakeUp: Envelope = { resolved: settled };
    await Promise.all(others.map((id) => this.publish(this.redis.channel('instance', id), wakeUp, '')));
  }

  override async endTaskSubscriptions(userId: string, taskId: string): Promise<void> {
    await this.publish(this.redis.channel('user', userId), { revoke: taskId }, '');
  }

  /** The user's connections are counted in Redis; the oldest past the limit close wherever they are. */
  override async admitUserConnection(connection: ClientConnection, limit: number): Promise<void> {
    const userId = connection.userId;
    if (userId === null) return;
    try {
      for (const oldest of await this.presence.join(userId, connection.id, limit)) {
        if (oldest.instance === this.identity.id) {
          const local = this.connections.byId(oldest.connectionId);
          if (local) this.closeReplaced(local);
        } else {
          await this.publish(this.redis.channel('user', userId), { close: oldest.connectionId }, '');
        }
      }
    } catch (err) {
      // Redis away: the connection stays; the limit is enforced again on the next connect.
      this.logger.debug(`Per-user connection limit not checked now: ${(err as Error).message}`);
    }
  }

  override userReachable(userId: string): Promise<void> {
    return this.subscriptions.get(this.redis.channel('user', userId)) ?? Promise.resolve();
  }

  override broadcastReachable(): Promise<void> {
    return this.subscriptions.get(this.broadcastChannel) ?? Promise.resolve();
  }

  override taskReachable(taskId: string): Promise<void> {
    return this.subscriptions.get(this.redis.channel('task', taskId)) ?? Promise.resolve();
  }

  /**
   * Scatter and gather: asks every instance the registry knows alive, on its own channel,
   * and waits up to LISTING_TIMEOUT_MS; the silent ones are named in `unreachable`.
   */
  override async listConnections(filter: ConnectionFilter): Promise<ConnectionListing> {
    const others = (await this.redis.run(() => this.registry.aliveIds())).filter((id) => id !== this.identity.id);
    const listing: PendingListing = { waitingFor: new Set(others), ...this.connectionsHere(filter), answered: [this.identity.id], done: () => undefined };
    if (others.length > 0) {
      const id = randomUUID();
      const allAnswered = new Promise<void>((resolve) => (listing.done = resolve));
      this.listings.set(id, listing);
      try {
        await Promise.all(others.map((other) => this.publish(this.redis.channel('instance', other), { list: { id, from: this.identity.id, filter } }, '')));
        await Promise.race([allAnswered, new Promise((resolve) => setTimeout(resolve, LISTING_TIMEOUT_MS).unref())]);
      } finally {
        this.listings.delete(id);
      }
    }
    const { answered, waitingFor, connections, truncated } = listing;
    return { instances: answered, unreachable: [...waitingFor], connections, truncated };
  }

  override onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  /** Publishes the frame; with history on, appends it to its stream first, in the same script. */
  private async send(stream: StreamRef, channel: string, envelope: Envelope, json: string): Promise<number> {
    if (!this.streams) return this.publish(channel, envelope, json);
    const header = JSON.stringify(envelope);
    const envelopePrefix = header === '{}' ? '{' : `${header.slice(0, -1)},`;
    const published = await this.streams.appendAndPublish(stream, json, envelope.s, { channel, envelopePrefix });
    return published.reached;
  }

  private publish(channel: string, envelope: Envelope, json: string): Promise<number> {
    const header = JSON.stringify(envelope);
    return this.redis.run(() => this.redis.commands.publish(channel, `${header === '{}' ? '' : header}\n${json}`));
  }

  private receive(channel: string, message: string): void {
    const route = this.routes.get(channel);
    if (!route) return;
    this.received[route.kind]++;
    const cut = message.indexOf('\n');
    const envelope: Envelope = cut > 0 ? (JSON.parse(message.slice(0, cut)) as Envelope) : {};
    const raw = message.slice(cut + 1);
    const offset = envelope.o;
    const json = (stream: string) => (offset === undefined ? raw : new StreamFrame(raw, stream, offset));
    switch (route.kind) {
      case 'everyone':
        this.delivered(envelope, this.deliverHere({ everyone: true, exceptConnectionId: envelope.x }, json('b')));
        return;
      case 'instance':
        this.receiveControl(envelope, raw);
        return;
      case 'user':
        if (envelope.revoke !== undefined) this.endTaskSubscriptionsHere(route.id, envelope.revoke);
        else if (envelope.close !== undefined) this.closeIfHere(envelope.close);
        else this.delivered(envelope, this.deliverHere({ userIds: [route.id], exceptConnectionId: envelope.x }, json('u')));
        return;
      case 'task':
        this.delivered(envelope, this.deliverHere({ taskIds: [route.id], exceptConnectionId: envelope.x }, json(`t:${route.id}`), envelope.s));
    }
  }

  private delivered(envelope: Envelope, count: number): void {
    if (envelope.t !== undefined) this.observeDelivered(envelope.t, count);
  }

  /** What arrives on this instance's own channel: wake-ups and connection listings. */
  private receiveControl(envelope: Envelope, raw: string): void {
    if (envelope.resolved) {
      this.notifyResolution({ callbackId: envelope.resolved.callbackId, confirmation: envelope.resolved, fromElsewhere: true });
    } else if (envelope.list) {
      const { id, from, filter } = envelope.list;
      const answer: ListingAnswer = this.connectionsHere(filter);
      this.publish(this.redis.channel('instance', from), { listed: id, by: this.identity.id }, JSON.stringify(answer)).catch(() => undefined);
    } else if (envelope.listed !== undefined && envelope.by !== undefined) {
      this.collectListing(envelope.listed, envelope.by, raw);
    }
  }

  private collectListing(id: string, by: string, raw: string): void {
    const listing = this.listings.get(id);
    if (!listing?.waitingFor.delete(by)) return;
    const answer = JSON.parse(raw) as ListingAnswer;
    listing.answered.push(by);
    listing.connections.push(...answer.connections);
    listing.truncated ||= answer.truncated;
    if (listing.waitingFor.size === 0) listing.done();
  }

  private closeIfHere(connectionId: string): void {
    const connection = this.connections.byId(connectionId);
    if (connection) this.closeReplaced(connection);
  }

  private follow(change: MembershipChange): void {
    const channel = this.redis.channel(change.kind, change.id);
    if (change.present) {
      this.routes.set(channel, { kind: change.kind, id: change.id });
      void this.subscribe(channel);
    } else {
      this.routes.delete(channel);
      this.subscriptions.delete(channel);
      this.redis.subscriber.unsubscribe(channel).catch(() => undefined);
    }
  }

  private subscribe(channel: string): Promise<void> {
    const subscribed = this.redis.subscriber.subscribe(channel).then(
      () => undefined,
      (err: Error) => {
        // Redis away: the reconnect subscribes every channel still wanted.
        this.logger.debug(`Subscribe to ${channel} deferred: ${err.message}`);
      },
    );
    this.subscriptions.set(channel, subscribed);
    return subscribed;
  }

  /**
   * Every time the subscriber is ready, every wanted channel again: with maxRetriesPerRequest
   * 0, ioredis drops queued SUBSCRIBEs on each failed connection attempt, so channels asked
   * for before the first connection (start-up with Redis away or slow) exist only here.
   * SUBSCRIBE is idempotent. After an outage, the listeners also re-read what they missed.
   */
  private resubscribeAll(): void {
    for (const channel of this.routes.keys()) void this.subscribe(channel);
    if (!this.everReady) {
      this.everReady = true;
      return;
    }
    this.logger.log(`Resubscribed ${this.routes.size} channels; re-reading shared state`);
    for (const listener of this.reconnectListeners) listener();
  }
}
