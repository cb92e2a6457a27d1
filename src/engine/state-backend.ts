import type { AckStore } from '../acks/ack.store.js';
import type { Broker } from '../broker/broker.js';
import type { BackendKind, ConfirmationRetentionSection } from '../config/settings.js';
import type { ConfirmationStore } from '../confirmations/confirmation.store.js';
import type { ConnectionService } from '../connections/connection.service.js';
import type { DeliveryService } from '../delivery/delivery.service.js';
import type { HistoryStore } from '../history/history.store.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { Presence } from '../presence/presence.js';
import type { InstanceRegistry } from '../redis/instance-registry.service.js';
import type { GrantStore } from '../tasks/grant.store.js';
import type { HeartbeatStore } from '../tasks/heartbeat.store.js';
import type { ScheduleStore } from '../schedule/schedule.store.js';
import type { ReplicationFence } from '../redis/replication-fence.js';

/** The shared state's connection, as readiness checks it. */
export interface SharedStateProbe {
  readonly isReady: boolean;
  ping(): Promise<unknown>;
}

/** The deployment's figures /status adds beside this instance's. */
export interface DeploymentStatus {
  instance_id: string;
  instances_alive?: number;
  pending_confirmations?: number;
  frames_received?: Record<string, number>;
  redis?: 'unavailable';
}

/**
 * Where the state lives, chosen once at start-up (memory, Redis or Redis Cluster: see
 * BackendModule). It provides every store, the history, the broker, the presence and the
 * instance registry; nothing above it asks which backend it is. What differs between
 * backends in behaviour is said as a capability (hasPeers, sharedState), never as a mode.
 */
export abstract class StateBackend {
  abstract readonly kind: BackendKind;

  /**
   * Other instances may share this state: work another instance started (a heartbeat, an
   * overdue confirmation, a waiting caller) can be left for this one to finish, so the scans
   * that adopt it run only when this is true.
   */
  abstract readonly hasPeers: boolean;

  /** The shared state's connection for readiness; undefined when the state is in this process. */
  abstract readonly sharedState: SharedStateProbe | undefined;

  /**
   * Waits until replicas hold what was written (REDIS_WAIT_REPLICAS) before a creation or a
   * decision is acknowledged; null when nothing is replicated or nobody asked to wait.
   */
  abstract readonly replicationFence: ReplicationFence | null;

  abstract readonly history: HistoryStore;
  abstract readonly broker: Broker;
  abstract readonly presence: Presence;
  abstract readonly instances: InstanceRegistry;

  abstract confirmationStore(retention: ConfirmationRetentionSection): ConfirmationStore;
  abstract ackStore(): AckStore;
  abstract heartbeatStore(): HeartbeatStore;
  abstract grantStore(): GrantStore;
  abstract scheduleStore(): ScheduleStore;
  abstract delivery(connections: ConnectionService, metrics: MetricsService): DeliveryService;

  /** The deployment's figures for /status; undefined when this instance is the deployment. */
  abstract deploymentStatus(pendingTotal: () => Promise<number>): Promise<DeploymentStatus | undefined>;
}
