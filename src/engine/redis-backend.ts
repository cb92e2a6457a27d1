import { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { AckStore } from '../acks/ack.store.js';
import { RedisAckStore } from '../acks/redis-ack.store.js';
import { RedisBroker } from '../broker/redis-broker.js';
import type { ConfirmationRetentionSection, HistorySection, RedisSection } from '../config/settings.js';
import type { ConfirmationStore } from '../confirmations/confirmation.store.js';
import { RedisConfirmationStore } from '../confirmations/redis-confirmation.store.js';
import type { ConnectionService } from '../connections/connection.service.js';
import type { DeliveryService } from '../delivery/delivery.service.js';
import { RedisDeliveryService } from '../delivery/redis-delivery.service.js';
import { RedisHistoryStore } from '../history/redis-history.store.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import { RedisPresence } from '../presence/redis-presence.js';
import { RedisInstanceRegistry } from '../redis/instance-registry.service.js';
import { RedisService } from '../redis/redis.service.js';
import { GrantStore, RedisGrantStore } from '../tasks/grant.store.js';
import type { HeartbeatStore } from '../tasks/heartbeat.store.js';
import { RedisHeartbeatStore } from '../tasks/redis-heartbeat.store.js';
import { RedisScheduleStore } from '../schedule/redis-schedule.store.js';
import type { ScheduleStore } from '../schedule/schedule.store.js';
import { DeploymentStatus, SharedStateProbe, StateBackend } from './state-backend.js';
import type { ReplicationFence } from '../redis/replication-fence.js';

/** Shared state in one Redis or a Redis Cluster (REDIS_CLUSTER): any number of instances. */
export class RedisBackend extends StateBackend implements OnModuleInit, OnApplicationShutdown {
  readonly kind;
  readonly hasPeers = true;
  readonly redis: RedisService;
  readonly history: RedisHistoryStore;
  readonly broker: RedisBroker;
  readonly presence: RedisPresence;
  readonly instances: RedisInstanceRegistry;
  readonly sharedState: SharedStateProbe;
  readonly replicationFence: ReplicationFence | null;

  constructor(
    private readonly instanceId: string,
    settings: RedisSection,
    history: HistorySection,
  ) {
    super();
    this.kind = settings.cluster ? ('redis-cluster' as const) : ('redis' as const);
    this.redis = new RedisService(settings, instanceId);
    this.history = new RedisHistoryStore(this.redis, history);
    this.broker = new RedisBroker(this.redis, instanceId, this.history.enabled ? history : null);
    this.presence = new RedisPresence(this.redis, instanceId);
    this.instances = new RedisInstanceRegistry(this.redis, instanceId);
    const redis = this.redis;
    this.sharedState = { get isReady() { return redis.isReady; }, ping: () => redis.commands.ping() };
    this.replicationFence = redis.fence;
  }


  onModuleInit(): void {
    this.instances.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.instances.stop();
    await this.redis.onApplicationShutdown();
  }

  confirmationStore(retention: ConfirmationRetentionSection): ConfirmationStore {
    return new RedisConfirmationStore(this.redis, retention);
  }

  ackStore(): AckStore {
    return new RedisAckStore(this.redis);
  }

  heartbeatStore(): HeartbeatStore {
    return new RedisHeartbeatStore(this.redis);
  }

  grantStore(): GrantStore {
    return new RedisGrantStore(this.redis);
  }

  scheduleStore(): ScheduleStore {
    return new RedisScheduleStore(this.redis);
  }

  delivery(connections: ConnectionService, metrics: MetricsService): DeliveryService {
    return new RedisDeliveryService(connections, this.broker, this.presence, this.instanceId, metrics, this.instances);
  }

  async deploymentStatus(pendingTotal: () => Promise<number>): Promise<DeploymentStatus> {
    try {
      const [pending, instances] = await Promise.all([pendingTotal(), this.instances.aliveCount()]);
      return { instance_id: this.instanceId, instances_alive: instances, pending_confirmations: pending, frames_received: { ...this.broker.received } };
    } catch {
      return { instance_id: this.instanceId, redis: 'unavailable' };
    }
  }
}
