import { Controller, Get } from '@nestjs/common';
import { ValidQuery } from '../http/route-input.js';
import { ApiOkResponse, ApiTags } from '../docs/api-decorators.js';
import { ConnectionListingSchema } from '../docs/response-schemas.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import { DeliveryService } from './delivery.service.js';
import { ConnectionsQueryDto, DEFAULT_LISTED_CONNECTIONS } from './dto/connections-query.dto.js';

/**
 * The open connections of the deployment, for operators (API key, like every REST route):
 * in cluster mode every instance's, gathered through Redis.
 */
@ApiTags('operations')
@Controller('connections')
export class ConnectionsController {
  constructor(
    private readonly delivery: DeliveryService,
    private readonly identity: InstanceIdentity,
  ) {}

  @Get()
  @ApiOkResponse({ schema: ConnectionListingSchema, description: "Every instance's open connections (one user's with user_id)" })
  async list(@ValidQuery() query: ConnectionsQueryDto) {
    const limit = query.limit ?? DEFAULT_LISTED_CONNECTIONS;
    const { instances, unreachable, connections: gathered, truncated } = await this.delivery.listConnections({ userId: query.user_id, limit });
    // Each instance keeps to the limit; together they may pass it.
    const connections = gathered.slice(0, limit);
    return { instance: this.identity.id, instances, unreachable, count: connections.length, truncated: truncated || gathered.length > limit, connections };
  }
}
