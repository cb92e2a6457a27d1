import { randomUuid } from '../common/random-uuid.js';
import { OnApplicationBootstrap } from '@nestjs/common';
import type { Arrival } from '../broker/broker.js';
import type { Control, ControlTarget, RedisBroker } from '../broker/redis-broker.js';
import type { Confirmation } from '../confirmations/confirmation.js';
import { ConnectionService } from '../connections/connection.service.js';
import type { ConnectionFilter, ConnectionListing, ConnectionView } from '../connections/connection-view.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { Presence, PresentConnection } from '../presence/presence.js';
import type { InstanceRegistry } from '../redis/instance-registry.service.js';
import { Audience } from './delivery.service.js';
import { LocalDeliveryService } from './local-delivery.service.js';
import { jsonOf } from '../protocol/frame-json.js';
import { tracing } from '../tracing/tracing.js';

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

/**
 * Delivery across the instances sharing a Redis: frames through the RedisBroker (a frame
 * for one user costs nothing on instances without that user), and what instances tell each
 * other beside frames, as broker controls: wake-ups of waiting callers, revoked task
 * subscriptions, connections replaced elsewhere, and connection listings.
 */
export class RedisDeliveryService extends LocalDeliveryService implements OnApplicationBootstrap {
  private readonly listings = new Map<string, PendingListing>();
  protected override readonly messagingSystem = 'redis';

  constructor(
    connections: ConnectionService,
    private readonly redisBroker: RedisBroker,
    presence: Presence,
    instanceId: string,
    metrics: MetricsService,
    private readonly registry: InstanceRegistry,
  ) {
    super(connections, redisBroker, presence, instanceId, metrics);
    redisBroker.onControl((target, control, body) => this.receiveControl(target, control, body));
  }

  /**
   * Subscribes to broadcasts and to this instance's own channel before the server listens,
   * so a ready instance hears broadcasts, wake-ups and listings from its first request. With
   * Redis away it starts anyway after a short wait; the reconnect subscribes then.
   */
  async onApplicationBootstrap(): Promise<void> {
    await Promise.race([this.redisBroker.start(), new Promise((resolve) => setTimeout(resolve, STARTUP_SUBSCRIBE_WAIT_MS).unref())]);
  }

  /** Resolves to the number of instances that hold a socket of the audience; each observes its own latency. */
  override async deliver(audience: Audience, frame: object | string): Promise<number> {
    return this.publish(audience, typeof frame === 'string' ? frame : jsonOf(frame), audience.acceptedAt ?? Date.now());
  }

  protected override arrived(arrival: Arrival): number {
    const delivered = super.arrived(arrival);
    if (arrival.acceptedAt !== undefined) this.observeDelivered(arrival.acceptedAt, delivered);
    return delivered;
  }

  override async announceResolution(settled: Confirmation, waitingInstances: readonly string[]): Promise<void> {
    this.notifyResolution({ callbackId: settled.callbackId, confirmation: settled });
    const others = waitingInstances.filter((id) => id !== this.instanceId);
    await Promise.all(others.map((id) => this.redisBroker.sendControl({ kind: 'instance', id }, { resolved: settled })));
  }

  override async endTaskSubscriptions(userId: string, taskId: string): Promise<void> {
    await this.redisBroker.sendControl({ kind: 'user', id: userId }, { revoke: taskId });
  }

  protected override async closeElsewhere(userId: string, oldest: PresentConnection): Promise<void> {
    await this.redisBroker.sendControl({ kind: 'user', id: userId }, { close: oldest.connectionId });
  }

  /**
   * Scatter and gather: asks every instance the registry knows alive, on its own channel,
   * and waits up to LISTING_TIMEOUT_MS; the silent ones are named in `unreachable`.
   */
  override async listConnections(filter: ConnectionFilter): Promise<ConnectionListing> {
    const others = (await this.registry.aliveIds()).filter((id) => id !== this.instanceId);
    const listing: PendingListing = { waitingFor: new Set(others), ...this.connectionsHere(filter), answered: [this.instanceId], done: () => undefined };
    if (others.length > 0) {
      const id = randomUuid();
      const allAnswered = new Promise<void>((resolve) => (listing.done = resolve));
      this.listings.set(id, listing);
      try {
        await Promise.all(others.map((other) => this.redisBroker.sendControl({ kind: 'instance', id: other }, { list: { id, from: this.instanceId, filter } })));
        await Promise.race([allAnswered, new Promise((resolve) => setTimeout(resolve, LISTING_TIMEOUT_MS).unref())]);
      } finally {
        this.listings.delete(id);
      }
    }
    const { answered, waitingFor, connections, truncated } = listing;
    return { instances: answered, unreachable: [...waitingFor], connections, truncated };
  }

  override onReconnect(listener: () => void): void {
    this.redisBroker.onReconnect(listener);
  }

  private receiveControl(target: ControlTarget, control: Control, body: string): void {
    if (target.kind === 'user') {
      if (control.revoke !== undefined) this.endTaskSubscriptionsHere(target.id, control.revoke);
      else if (control.close !== undefined) this.closeIfHere(control.close);
    } else if (control.resolved) {
      const resolved = control.resolved;
      const wake = () => {
        this.notifyResolution({ callbackId: resolved.callbackId, confirmation: resolved, fromElsewhere: true });
        return 1;
      };
      // A span in the settling instance's trace: the waiting caller here gets its decision.
      if (tracing.tracer) tracing.tracer.process('resolution', this.messagingSystem, control.tp, wake);
      else wake();
    } else if (control.list) {
      const { id, from, filter } = control.list;
      const answer: ListingAnswer = this.connectionsHere(filter);
      this.redisBroker.sendControl({ kind: 'instance', id: from }, { listed: id, by: this.instanceId }, JSON.stringify(answer)).catch(() => undefined);
    } else if (control.listed !== undefined && control.by !== undefined) {
      this.collectListing(control.listed, control.by, body);
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
}
