import type { AckStore } from '../acks/ack.store.js';
import { MemoryAckStore } from '../acks/memory-ack.store.js';
import { MemoryBroker } from '../broker/memory-broker.js';
import type { ConfirmationRetentionSection, HistorySection } from '../config/settings.js';
import type { ConfirmationStore } from '../confirmations/confirmation.store.js';
import { MemoryConfirmationStore } from '../confirmations/memory-confirmation.store.js';
import type { ConnectionService } from '../connections/connection.service.js';
import type { DeliveryService } from '../delivery/delivery.service.js';
import { LocalDeliveryService } from '../delivery/local-delivery.service.js';
import { MemoryHistoryStore } from '../history/memory-history.store.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import { MemoryPresence } from '../presence/memory-presence.js';
import { SingleInstanceRegistry } from '../redis/instance-registry.service.js';
import { GrantStore, MemoryGrantStore } from '../tasks/grant.store.js';
import { HeartbeatStore, MemoryHeartbeatStore } from '../tasks/heartbeat.store.js';
import { MemoryScheduleStore } from '../schedule/memory-schedule.store.js';
import type { ScheduleStore } from '../schedule/schedule.store.js';
import { StateBackend } from './state-backend.js';

/** Everything in this process: one instance, lost on restart. The default. */
export class MemoryBackend extends StateBackend {
  readonly kind = 'memory';
  readonly hasPeers = false;
  readonly sharedState = undefined;
  readonly replicationFence = null;
  readonly history: MemoryHistoryStore;
  readonly broker: MemoryBroker;
  readonly presence: MemoryPresence;
  readonly instances: SingleInstanceRegistry;

  constructor(
    private readonly instanceId: string,
    history: HistorySection,
  ) {
    super();
    this.history = new MemoryHistoryStore(history);
    this.broker = new MemoryBroker(this.history.enabled ? this.history : null);
    this.presence = new MemoryPresence(instanceId);
    this.instances = new SingleInstanceRegistry(instanceId);
  }

  confirmationStore(retention: ConfirmationRetentionSection): ConfirmationStore {
    return new MemoryConfirmationStore(retention);
  }

  ackStore(): AckStore {
    return new MemoryAckStore();
  }

  heartbeatStore(): HeartbeatStore {
    return new MemoryHeartbeatStore();
  }

  grantStore(): GrantStore {
    return new MemoryGrantStore();
  }

  scheduleStore(): ScheduleStore {
    return new MemoryScheduleStore();
  }

  delivery(connections: ConnectionService, metrics: MetricsService): DeliveryService {
    return new LocalDeliveryService(connections, this.broker, this.presence, this.instanceId, metrics);
  }

  async deploymentStatus(): Promise<undefined> {
    return undefined;
  }
}
