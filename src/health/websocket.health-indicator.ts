import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { ConnectionService } from '../connections/connection.service.js';
import { ServerStateService } from './server-state.service.js';

/** Ready while the socket server listens and is not draining for shutdown. */
@Injectable()
export class WebSocketHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly state: ServerStateService,
    private readonly connections: ConnectionService,
  ) {}

  check(key = 'websocket') {
    const indicator = this.indicators.check(key);
    const details = { connections: this.connections.count };
    if (this.state.isShuttingDown) return indicator.down({ ...details, message: 'shutting down' });
    if (!this.state.isRunning) return indicator.down({ ...details, message: 'not listening yet' });
    return indicator.up(details);
  }
}
