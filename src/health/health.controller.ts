import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { PublicRoute } from '../auth/api-key.hook.js';
import { StatusService } from './status.service.js';
import { WebSocketHealthIndicator } from './websocket.health-indicator.js';

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly websocket: WebSocketHealthIndicator,
    private readonly statusService: StatusService,
  ) {}

  /** Readiness: 503 while starting or draining, so the load balancer sends no new work. */
  @Get('health')
  @PublicRoute()
  @HealthCheck()
  readiness() {
    return this.health.check([() => this.websocket.check()]);
  }

  /** Liveness: the event loop answers. Depends on nothing outside the process. */
  @Get('health/live')
  @PublicRoute()
  @HealthCheck()
  liveness() {
    return this.health.check([]);
  }

  @Get('status')
  status() {
    return this.statusService.status();
  }
}
