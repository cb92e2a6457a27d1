import { Injectable } from '@nestjs/common';
import type { ClientConnection } from '../connections/client-connection.js';
import { ConnectionService } from '../connections/connection.service.js';
import { PreparedFrame } from '../connections/prepared-frame.js';
import { Audience, DeliveryService, ResolutionEvent } from './delivery.service.js';

/** Delivers to the sockets of this instance only. */
@Injectable()
export class LocalDeliveryService extends DeliveryService {
  private readonly resolutionListeners: Array<(event: ResolutionEvent) => void> = [];

  constructor(private readonly connections: ConnectionService) {
    super();
  }

  async deliver(audience: Audience, frame: object): Promise<number> {
    // Serialized on the first recipient: often there is none ("tell the other tabs").
    let prepared: PreparedFrame | undefined;
    let delivered = 0;
    for (const connection of this.recipients(audience)) {
      prepared ??= new PreparedFrame(JSON.stringify(frame));
      if (this.connections.send(connection, prepared)) delivered++;
    }
    return delivered;
  }

  announceResolution(event: ResolutionEvent): void {
    for (const listener of this.resolutionListeners) listener(event);
  }

  onResolution(listener: (event: ResolutionEvent) => void): void {
    this.resolutionListeners.push(listener);
  }

  private *recipients(audience: Audience): Iterable<ClientConnection> {
    const { exceptConnectionId } = audience;
    const groups: Array<Iterable<ClientConnection>> = audience.everyone
      ? [this.connections.all()]
      : [
          ...(audience.userIds ?? []).map((id) => this.connections.connectionsOfUser(id)),
          ...(audience.taskIds ?? []).map((id) => this.connections.subscribersOfTask(id)),
        ];
    // Only a connection in several groups (the user's and a task's) could come twice.
    const seen = groups.length > 1 ? new Set<ClientConnection>() : undefined;
    for (const group of groups) {
      for (const connection of group) {
        if (connection.id === exceptConnectionId || seen?.has(connection)) continue;
        seen?.add(connection);
        yield connection;
      }
    }
  }
}
