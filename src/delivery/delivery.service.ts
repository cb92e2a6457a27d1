import type { ConfirmationState } from '../protocol/server-frames.js';

/** Who a frame is for. The union of the sets gets it once. */
export interface Audience {
  userIds?: readonly string[];
  taskIds?: readonly string[];
  everyone?: boolean;
  /** Leave out this connection (the one that caused the frame). */
  exceptConnectionId?: string;
}

/** Announced when a confirmation leaves `pending`, wherever that happened. */
export interface ResolutionEvent {
  callbackId: string;
  state: ConfirmationState;
}

/**
 * The seam between the services and the sockets. The in-memory implementation reaches
 * this instance's connections; a shared-bus implementation can make several instances
 * act as one without changing any caller.
 */
export abstract class DeliveryService {
  /** Delivers the frame; resolves to the number of sockets it was written to here. */
  abstract deliver(audience: Audience, frame: object): Promise<number>;

  abstract announceResolution(event: ResolutionEvent): void;

  abstract onResolution(listener: (event: ResolutionEvent) => void): void;
}
