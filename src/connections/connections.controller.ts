import { Controller, Get, Query } from '@nestjs/common';
import { IsOptional, IsString, Length } from 'class-validator';
import { MAX_ID_LENGTH } from '../protocol/client-frames.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import type { ClientConnection } from './client-connection.js';
import { ConnectionService } from './connection.service.js';

export class ConnectionsQueryDto {
  @IsOptional()
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  user_id?: string;
}

const DEFLATE = 'permessage-deflate';

/** The open connections of this instance, for operators (API key, like every REST route). */
@Controller('connections')
export class ConnectionsController {
  constructor(
    private readonly connections: ConnectionService,
    private readonly identity: InstanceIdentity,
  ) {}

  @Get()
  list(@Query() query: ConnectionsQueryDto) {
    const open = query.user_id !== undefined ? this.connections.connectionsOfUser(query.user_id) : this.connections.all();
    const connections = [...open].map((connection) => this.view(connection));
    return { instance: this.identity.id, count: connections.length, connections };
  }

  private view(connection: ClientConnection) {
    const { socket } = connection;
    return {
      connection_id: connection.id,
      user_id: connection.userId,
      instance: this.identity.id,
      connected_since: epochSeconds(connection.connectedAt),
      rtt_ms: connection.rttMs,
      frames_in: connection.framesIn,
      frames_out: connection.framesOut,
      bytes_buffered: socket.bufferedAmount,
      protocol: socket.protocol === '' ? null : socket.protocol,
      compression: socket.extensions.includes(DEFLATE) ? DEFLATE : null,
      subscribed_tasks: [...connection.tasks],
    };
  }
}
