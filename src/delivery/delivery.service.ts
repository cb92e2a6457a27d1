import type { Confirmation } from '../confirmations/confirmation.js';
import type { ClientConnection } from '../connections/client-connection.js';
import type { ConnectionFilter, ConnectionListing } from '../connections/connection-view.js';

/** Who a frame is for. The union of the sets gets it once. */
export interface Audience {
  userIds?: readonly string[];
  taskIds?: readonly string[];
  /** Connections whose user belongs to one of these groups (approvers named by group); live only, no history. */
  groupIds?: readonly string[];
  everyone?: boolean;
  /** Leave out this connection (the one that caused the frame). */
  exceptConnectionId?: string;
  /**
   * When the request that caused the frame was accepted (epoch ms), where the delivery
   * latency histogram starts. Without it, the moment `deliver` is called.
   */
  acceptedAt?: number;
}

/** Announced when a confirmation leaves `pending`, wherever that happened. */
export interface ResolutionEvent {
  callbackId: string;
  /**
   * The settled record as the settle step stored it, so a waiting caller needs no read.
   * Missing when only the fact is known: the waiter re-reads the store.
   */
  confirmation?: Confirmation;
  /** Settled on another instance: it may arrive before this instance's caller waits. */
  fromElsewhere?: boolean;
}

/**
 * The seam between the services and the sockets: frames go through the Broker the backend
 * provides (memory: this instance's connections; Redis: every instance's, through channels
 * only instances with a member of the audience subscribe to).
 */
export abstract class DeliveryService {
  /**
   * Delivers the frame. Resolves to the number of sockets it was written to, or in
   * cluster mode to the number of instances that hold a socket of the audience.
   */
  abstract deliver(audience: Audience, frame: object | string): Promise<number>;

  /** Wakes the callers waiting here and on the given instances. */
  abstract announceResolution(settled: Confirmation, waitingInstances: readonly string[]): Promise<void>;

  abstract onResolution(listener: (event: ResolutionEvent) => void): void;

  /** Ends the user's subscriptions to the task on every instance. */
  abstract endTaskSubscriptions(userId: string, taskId: string): Promise<void>;

  /**
   * Counts the connection among its user's, wherever they are. A new tab wins over a
   * forgotten one: past `limit`, the user's oldest connections close (4008).
   */
  abstract admitUserConnection(connection: ClientConnection, limit: number): Promise<void>;

  /** Resolves once frames for the user reach this instance (their channel is subscribed). */
  abstract userReachable(userId: string): Promise<void>;

  /** Resolves once broadcasts reach this instance (its broadcast channel is subscribed). */
  abstract broadcastReachable(): Promise<void>;

  /** Resolves once frames for the task's subscribers reach this instance. */
  abstract taskReachable(taskId: string): Promise<void>;

  /** The open connections of every instance, as the filter narrows them. */
  abstract listConnections(filter: ConnectionFilter): Promise<ConnectionListing>;

  /** Called after the shared bus came back from an outage: messages may have been missed. */
  abstract onReconnect(listener: () => void): void;
}
