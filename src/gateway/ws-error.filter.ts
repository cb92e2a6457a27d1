import { ArgumentsHost, Catch, ExceptionFilter, Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { type ClientConnection, socketLogFields } from '../connections/client-connection.js';
import { ConnectionService } from '../connections/connection.service.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { errorFrame } from '../protocol/server-frames.js';

/**
 * Turns anything a socket handler throws into an `error` frame on that socket. Nest's
 * own filter emits an 'exception' event that never reaches a plain WebSocket client.
 */
@Catch()
@Injectable()
export class WsErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(WsErrorFilter.name);

  constructor(private readonly connections: ConnectionService) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const client = ws.getClient<WebSocket>();
    const action = actionOf(ws.getData());
    const connection = this.connections.connectionOf(client);
    const frame =
      exception instanceof GatewayError
        ? errorFrame(exception.code, exception.message, action, exception.field)
        : this.internalError(exception, action, connection);
    if (connection) this.connections.sendFrame(connection, frame);
  }

  private internalError(exception: unknown, action: string | undefined, connection: ClientConnection | undefined) {
    const fields = { ...(connection && socketLogFields(connection)), action };
    this.logger.error(fields, `Unhandled error in ${action ?? 'socket'} handler: ${(exception as Error)?.stack ?? String(exception)}`);
    return errorFrame(ErrorCode.InternalError, 'Internal error', action);
  }
}

function actionOf(data: unknown): string | undefined {
  const action = (data as { action?: unknown } | null)?.action;
  return typeof action === 'string' ? action : undefined;
}
