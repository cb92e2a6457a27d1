import { ApiOkResponse, ApiTags, HealthCheck } from '../docs/api-decorators.js';
import { StatusSchema } from '../docs/response-schemas.js';
import { Controller, Get } from '@nestjs/common';
import { HealthCheckService } from '@nestjs/terminus';
import { PublicRoute } from '../auth/api-key.hook.js';
import { RedisHealthIndicator } from './redis.health-indicator.js';
import { StatusService } from './status.service.js';
import { WebSocketHealthIndicator } from './websocket.health-indicator.js';

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly websocket: WebSocketHealthIndicator,
    private readonly statusService: StatusService,
    private readonly redis: RedisHealthIndicator,
  ) {}

  /** Readiness: 503 while starting or draining, so the load balancer sends no new work. */
  @Get('health')
  @PublicRoute()
  @HealthCheck()
  readiness() {
    const checks = [() => this.websocket.check()];
    return this.health.check(this.redis.isConfigured ? [...checks, () => this.redis.check()] : checks);
  }

  /** Liveness: the event loop answers. Depends on nothing outside the process. */
  @Get('health/live')
  @PublicRoute()
  @HealthCheck()
  liveness() {
    return this.health.check([]);
  }

  /** This instance's figures under the original's keys, plus the cluster's in cluster mode. */
  @Get('status')
  @ApiOkResponse({ schema: StatusSchema, description: "The original service's status keys plus counters" })
  async status() {
    return { ...this.statusService.status(), ...(await this.statusService.clusterStatus()) };
  }
}
