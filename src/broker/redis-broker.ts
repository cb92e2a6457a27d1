import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Confirmation } from '../confirmations/confirmation.js';
import type { ConnectionFilter } from '../connections/connection-view.js';
import { connectionStreamKey, HistoryLimits, isKept, offsetPrefix, StreamRef } from '../history/history.store.js';
import { historyKeys } from '../history/redis-history.store.js';
import { LuaScripts } from '../redis/lua-scripts.js';
import type { RedisService } from '../redis/redis.service.js';
import { Arrival, Broker, Publication, StreamFrame } from './broker.js';

/** What travels before the frame on a channel: who to leave out, or a control instruction. */
export interface Envelope {
  /** Connection to leave out. */
  x?: string;
  /** Users whose connections get the frame through their own channel already. */
  s?: readonly string[];
  /** The frame's offset in its stream (set by the publish script). */
  o?: number;
  /** When the request that caused the frame was accepted (epoch ms): delivery latency. */
  t?: number;
  /** Control (user channel): end this user's subscriptions to the task. */
  revoke?: string;
  /** Control (user channel): close this connection of the user (replaced by a newer one elsewhere). */
  close?: string;
  /** Control (instance channel): this confirmation was settled, with the record as stored. */
  resolved?: Confirmation;
  /** Control (instance channel): list your connections (as `filter` says) to instance `from`. */
  list?: { id: string; from: string; filter: ConnectionFilter };
  /** Control (instance channel): instance `by` answers listing `listed`; the body is its connections. */
  listed?: string;
  by?: string;
}

/** The instructions instances send each other, beside frames. */
export type Control = Pick<Envelope, 'revoke' | 'close' | 'resolved' | 'list' | 'listed' | 'by'>;

/** Where a control goes: a user's channel (every instance with a connection of theirs) or one instance's. */
export type ControlTarget = { kind: 'user'; id: string } | { kind: 'instance'; id: string };

type Route = { kind: 'stream'; stream: StreamRef } | { kind: 'instance' };

/**
 * Frames over Redis pub/sub, as Centrifugo and Socket.IO's sharded adapter do it: a channel
 * per user and per task, which an instance subscribes to only while it holds a connection of
 * that user (or a subscriber of that task), one broadcast channel, and one channel per
 * instance for controls. With history kept, one script appends a frame to its stream and
 * publishes it. Messages are `<envelope JSON>\n<frame JSON>`, so an instance writes the
 * frame to its sockets without parsing it.
 *
 * Pub/sub is at most once: nothing correct depends on a message arriving. After a reconnect
 * every listener re-reads what it may have missed (onReconnect).
 */
export class RedisBroker extends Broker {
  private readonly logger = new Logger(RedisBroker.name);
  private readonly scripts: LuaScripts;
  private readonly routes = new Map<string, Route>();
  private readonly subscriptions = new Map<string, Promise<void>>();
  private readonly reconnectListeners: Array<() => void> = [];
  private readonly controlListeners: Array<(target: ControlTarget, control: Control, body: string) => void> = [];
  private arrivalListener: (arrival: Arrival) => number = () => 0;
  private readonly ownChannel: string;
  private everReady = false;
  /** Messages this instance received per kind of channel: shows that targeted frames skip other instances. */
  readonly received = { user: 0, task: 0, group: 0, everyone: 0, instance: 0 };

  /** `history` null: no history kept, frames are only published. */
  constructor(
    private readonly redis: RedisService,
    private readonly instanceId: string,
    private readonly history: HistoryLimits | null,
  ) {
    super();
    this.scripts = LuaScripts.of(redis.commands);
    this.ownChannel = redis.channel('instance', instanceId);
    this.routes.set(this.ownChannel, { kind: 'instance' });
    this.routes.set(this.channelOf({ kind: 'broadcast' }), { kind: 'stream', stream: { kind: 'broadcast' } });
    redis.subscriber.on('message', (channel: string, message: string) => this.receive(channel, message));
    // Nest builds providers asynchronously: the subscriber may be connected already.
    this.everReady = redis.subscriber.status === 'ready';
    redis.subscriber.on('ready', () => this.resubscribeAll());
  }

  /** Subscribes to broadcasts and this instance's own channel; resolves once both are. */
  start(): Promise<void> {
    return Promise.all([this.subscribeChannel(this.ownChannel), this.subscribeChannel(this.channelOf({ kind: 'broadcast' }))]).then(() => undefined);
  }

  async publish({ stream, json, skipUsers, exceptConnectionId, acceptedAt }: Publication): Promise<number> {
    const channel = this.channelOf(stream);
    const envelope: Envelope = { x: exceptConnectionId, s: skipUsers && skipUsers.length > 0 ? skipUsers : undefined, t: acceptedAt };
    if (!this.history || !isKept(stream)) return this.send(channel, envelope, json);
    const [key, meta] = historyKeys(this.redis, stream);
    const { size, ttlMs, metaTtlMs, maxBytesPerStream } = this.history;
    const header = JSON.stringify(envelope);
    const [, reached] = await this.redis.run(() =>
      this.scripts.run('brokerPublish', [key, meta], [
        offsetPrefix(json, stream),
        size,
        Math.ceil(ttlMs / 1000),
        Math.ceil(metaTtlMs / 1000),
        randomUUID().slice(0, 8),
        Date.now(),
        envelope.s ? JSON.stringify(envelope.s) : '',
        channel,
        header === '{}' ? '{' : `${header.slice(0, -1)},`,
        maxBytesPerStream,
      ]),
    );
    return reached;
  }

  onArrival(listener: (arrival: Arrival) => number): void {
    this.arrivalListener = listener;
  }

  subscribe(stream: StreamRef): Promise<void> {
    const channel = this.channelOf(stream);
    this.routes.set(channel, { kind: 'stream', stream });
    return this.subscribeChannel(channel);
  }

  unsubscribe(stream: StreamRef): void {
    const channel = this.channelOf(stream);
    this.routes.delete(channel);
    this.subscriptions.delete(channel);
    this.redis.subscriber.unsubscribe(channel).catch(() => undefined);
  }

  reachable(stream: StreamRef): Promise<void> {
    return this.subscriptions.get(this.channelOf(stream)) ?? Promise.resolve();
  }

  /** Sends a control to a user's instances or to one instance. Resolves to the instances it reached. */
  sendControl(target: ControlTarget, control: Control, body = ''): Promise<number> {
    return this.send(this.redis.channel(target.kind, target.id), control, body);
  }

  onControl(listener: (target: ControlTarget, control: Control, body: string) => void): void {
    this.controlListeners.push(listener);
  }

  /** Called after Redis came back from an outage: messages may have been missed. */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  private channelOf(stream: StreamRef): string {
    return stream.kind === 'broadcast' ? this.redis.channel('broadcast') : this.redis.channel(stream.kind, stream.id);
  }

  private send(channel: string, envelope: Envelope, body: string): Promise<number> {
    const header = JSON.stringify(envelope);
    return this.redis.run(() => this.redis.commands.publish(channel, `${header === '{}' ? '' : header}\n${body}`));
  }

  private receive(channel: string, message: string): void {
    const route = this.routes.get(channel);
    if (!route) return;
    const cut = message.indexOf('\n');
    const envelope: Envelope = cut > 0 ? (JSON.parse(message.slice(0, cut)) as Envelope) : {};
    const body = message.slice(cut + 1);
    if (route.kind === 'instance') {
      this.received.instance++;
      this.control({ kind: 'instance', id: this.instanceId }, envelope, body);
      return;
    }
    const { stream } = route;
    this.received[stream.kind === 'broadcast' ? 'everyone' : stream.kind]++;
    if (stream.kind === 'user' && (envelope.revoke !== undefined || envelope.close !== undefined)) {
      this.control({ kind: 'user', id: stream.id }, envelope, body);
      return;
    }
    const frame = envelope.o === undefined ? body : new StreamFrame(body, connectionStreamKey(stream), envelope.o);
    this.arrivalListener({ stream, frame, skipUsers: envelope.s, exceptConnectionId: envelope.x, acceptedAt: envelope.t });
  }

  private control(target: ControlTarget, control: Control, body: string): void {
    for (const listener of this.controlListeners) listener(target, control, body);
  }

  private subscribeChannel(channel: string): Promise<void> {
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
    for (const channel of this.routes.keys()) void this.subscribeChannel(channel);
    if (!this.everReady) {
      this.everReady = true;
      return;
    }
    this.logger.log(`Resubscribed ${this.routes.size} channels; re-reading shared state`);
    for (const listener of this.reconnectListeners) listener();
  }
}
