import { INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { IncomingMessage, Server as HttpServer, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { Observable } from 'rxjs';
import { RawData, WebSocket, WebSocketServer } from 'ws';
import { ServerStateService } from '../health/server-state.service.js';
import { codeOfHttpStatus, ErrorCode } from '../protocol/error-code.enum.js';
import { errorFrame } from '../protocol/server-frames.js';
import { AuthenticatedRequest, selectProtocol, UpgradeAuthenticator, UpgradeRejected } from '../auth/upgrade-authenticator.js';
import { CloseCode } from '../protocol/close-code.enum.js';
import { type ClientConnection, socketLogFields } from '../connections/client-connection.js';
import { ConnectionService } from '../connections/connection.service.js';

/** Paths that accept upgrades: the seed's browser client uses `/`, its nginx config `/ws/`. */
const UPGRADE_PATHS = new Set(['/', '/ws', '/ws/']);
const MAX_ECHOED_ACTION_LENGTH = 64;
/** WsAdapter's port for "the HTTP server's own port". */
const SHARED_HTTP_PORT = 0;

export interface GatewayWsAdapterOptions {
  maxMessageBytes: number;
  perMessageDeflate: boolean;
  /** Called with every upgrade's socket, which leaves HTTP's hands (see PendingConnectionCap). */
  onUpgrade?: (socket: Duplex) => void;
}

/**
 * When compression is on: only messages worth it, no context kept between messages, and
 * small zlib windows and buffers. ws keeps each socket's zlib streams once used: with
 * zlib's defaults that measured about 230 KiB RSS per connection, with these about 90 KiB
 * (docs/PERFORMANCE.md).
 */
const DEFLATE_OPTIONS = {
  threshold: 1024,
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: 10,
  clientMaxWindowBits: 10,
  zlibDeflateOptions: { memLevel: 4, chunkSize: 1024 },
} as const;

type WsServerOptions = Parameters<WsAdapter['create']>[1];

/**
 * Serves the gateway's sockets on the HTTP server's own port. Nest's WsAdapter creates the
 * ws server on that port, keeps its registry and binds disconnects; this adapter overrides
 * what the protocol needs done differently: it accepts several paths, settles identity
 * during the upgrade (so no frame can race it) and refuses an upgrade with a JSON answer,
 * logs client-caused socket errors at debug level only, and answers every frame it cannot
 * route (bad JSON, unknown action, binary) with an `error` frame instead of dropping it.
 * Frames are dispatched directly, without an Rx pipeline per message.
 */
export class GatewayWsAdapter extends WsAdapter {
  protected readonly logger = new Logger(GatewayWsAdapter.name);
  /**
   * Protocol violations (bad UTF-8, oversized frames) close the socket; without a listener
   * the 'error' event would be thrown. One function for every socket: a closure made in
   * handleUpgrade would keep the upgrade request, headers and all, for the connection's life.
   */
  private readonly logSocketError: (this: WebSocket, err: Error) => void;
  private readonly authenticator: UpgradeAuthenticator;
  private readonly serverState: ServerStateService;
  private readonly connections: ConnectionService;
  private upgradeListener?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  private upgradeServer?: HttpServer;

  constructor(
    app: INestApplicationContext,
    private readonly options: GatewayWsAdapterOptions,
  ) {
    super(app);
    this.authenticator = app.get(UpgradeAuthenticator);
    this.serverState = app.get(ServerStateService);
    this.connections = app.get(ConnectionService);
    this.logSocketError = logSocketErrorOf(this.logger, this.connections);
  }

  /** On the HTTP server's port (0), whatever port the gateway decorator names. */
  create(_port: number, gatewayOptions: WsServerOptions = {}): WebSocketServer {
    return super.create(SHARED_HTTP_PORT, {
      ...gatewayOptions,
      // The registry is the ConnectionService's; ws need not keep a second set of sockets.
      clientTracking: false,
      perMessageDeflate: this.options.perMessageDeflate ? DEFLATE_OPTIONS : false,
      maxPayload: this.options.maxMessageBytes,
      handleProtocols: selectProtocol,
    }) as WebSocketServer;
  }

  /**
   * WsAdapter's own listener hands `/` over unauthenticated and destroys other paths
   * without an answer; this one authenticates first and answers refusals with JSON.
   */
  protected ensureHttpServerExists(port: number, httpServer?: HttpServer): HttpServer | undefined {
    if (this.httpServersRegistry.has(port) || httpServer === undefined) return super.ensureHttpServerExists(port, httpServer);
    this.httpServersRegistry.set(port, httpServer);
    this.upgradeServer = httpServer;
    this.upgradeListener = (request, socket, head) => void this.handleUpgrade(port, request, socket, head);
    httpServer.on('upgrade', this.upgradeListener);
    return httpServer;
  }

  /** Server errors are ours; socket errors are the client's (bad UTF-8, oversized frames), see logSocketError. */
  bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('error', (err) => this.logger.error(`WebSocket server error: ${err.message}`));
    return server;
  }

  /**
   * Nest makes each socket its own handler objects; only their bound callbacks are kept,
   * on the connection, beside one action list shared by every socket, and the message
   * listener is one function for all sockets (the socket is `this`). A socket that
   * handleConnection refused has no connection and gets no handlers: it is closing.
   */
  bindMessageHandlers(client: WebSocket, handlers: MessageMappingProperties[], _transform: (data: unknown) => Observable<unknown>): void {
    const connection = this.connections.connectionOf(client);
    if (connection === undefined) return;
    connection.actions = this.sharedActions(handlers);
    connection.handlers = handlers.map((handler) => handler.callback as (...args: unknown[]) => unknown);
    client.on('message', this.messageListener);
  }

  private readonly actionLists = new Map<string, readonly string[]>();

  private sharedActions(handlers: MessageMappingProperties[]): readonly string[] {
    const actions = handlers.map((handler) => String(handler.message));
    const key = actions.join('\n');
    const shared = this.actionLists.get(key);
    if (shared !== undefined) return shared;
    this.actionLists.set(key, Object.freeze(actions));
    return actions;
  }

  private readonly messageListener = ((adapter: GatewayWsAdapter) =>
    function (this: WebSocket, data: RawData, isBinary: boolean): void {
      void adapter.dispatch(this, data, isBinary);
    })(this);

  /**
   * Nest would add a close listener to every socket to feed the gateway's handleDisconnect;
   * TaskGateway has none (ConnectionService follows closes itself), so that closure and
   * Node's once() wrapper around it would only cost every idle connection memory.
   * A gateway that needs handleDisconnect must drop this override.
   */
  bindClientDisconnect(): void {}

  /** Upgrades stop first, so none can arrive for a server that is closing. */
  async close(server: WebSocketServer): Promise<void> {
    this.stopUpgrades();
    await super.close(server);
  }

  async dispose(): Promise<void> {
    this.stopUpgrades();
    await super.dispose();
  }

  private stopUpgrades(): void {
    if (this.upgradeListener) this.upgradeServer?.off('upgrade', this.upgradeListener);
    this.upgradeListener = undefined;
  }

  private async handleUpgrade(port: number, request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.options.onUpgrade?.(socket);
    destroyOnError(socket);
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      if (!UPGRADE_PATHS.has(url.pathname)) throw new UpgradeRejected(404, `No WebSocket endpoint at ${url.pathname}`);
      if (this.serverState.isShuttingDown) throw new UpgradeRejected(503, 'Server is shutting down');
      (request as AuthenticatedRequest).identity = await this.authenticator.authenticate(request, url);
    } catch (err) {
      const rejection = err instanceof UpgradeRejected ? err : new UpgradeRejected(400, 'Bad upgrade request');
      const reason = codeOfHttpStatus(rejection.status);
      this.logger.debug({ reason, status: rejection.status }, `Upgrade refused: ${rejection.message}`);
      this.connections.recordRefusedConnection(reason);
      if (rejection.status === 401 && request.headers.origin !== undefined) this.refuseBrowser(port, request, socket, head, rejection);
      else rejectUpgrade(socket, rejection);
      return;
    }
    const server = this.wsServer(port);
    if (socket.destroyed || server === undefined) return void socket.destroy();
    server.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', this.logSocketError);
      server.emit('connection', ws, request);
    });
  }

  /**
   * A browser sees no status on a failed upgrade, only a failure, and would retry forever:
   * it gets the handshake and then a 4003 close that says why. No connection is registered.
   */
  private refuseBrowser(port: number, request: IncomingMessage, socket: Duplex, head: Buffer, rejection: UpgradeRejected): void {
    const server = this.wsServer(port);
    if (socket.destroyed || server === undefined) return void socket.destroy();
    server.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', () => ws.terminate());
      ws.close(CloseCode.Unauthorized, closeReason(rejection.message));
      // A peer that never answers the close holds nothing here for long.
      setTimeout(() => ws.terminate(), REFUSED_CLOSE_WAIT_MS).unref();
    });
  }

  private wsServer(port: number): WebSocketServer | undefined {
    return this.wsServersRegistry.get(port)?.[0] as WebSocketServer | undefined;
  }

  private async dispatch(client: WebSocket, data: RawData, isBinary: boolean): Promise<void> {
    const connection = this.connections.connectionOf(client);
    if (!connection || client.readyState !== WebSocket.OPEN || !this.connections.admitFrame(connection)) return;
    const frame = isBinary ? BINARY_FRAME : parseFrame(data);
    if (frame instanceof RefusedFrame) {
      this.connections.sendFrame(connection, errorFrame(frame.code, frame.message));
      return;
    }
    const action = frame.action;
    const handler = typeof action === 'string' ? handlerFor(connection, action) : undefined;
    if (handler === undefined) {
      const shown = String(action).slice(0, MAX_ECHOED_ACTION_LENGTH);
      this.connections.sendFrame(connection, errorFrame(ErrorCode.UnknownAction, `Unknown action: ${shown}`));
      return;
    }
    try {
      const result = await handler(frame, action);
      if (result !== undefined && result !== null) this.connections.sendFrame(connection, result as object);
    } catch (err) {
      this.logger.error({ ...socketLogFields(connection), action }, `Handler for ${String(action)} failed: ${(err as Error).stack ?? String(err)}`);
      this.connections.sendFrame(connection, errorFrame(ErrorCode.InternalError, 'Internal error', action as string));
    }
  }
}

/** Why a text or binary frame cannot be routed, as the error frame will say it. */
class RefusedFrame {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
  ) {}
}

const BINARY_FRAME = new RefusedFrame(ErrorCode.InvalidMessage, 'Binary frames are not supported; send JSON text');
const INVALID_JSON = new RefusedFrame(ErrorCode.InvalidJson, 'Invalid JSON format');
const NOT_AN_OBJECT = new RefusedFrame(ErrorCode.InvalidMessage, 'A frame must be a JSON object with an "action" field');

function parseFrame(data: RawData): { action?: unknown } | RefusedFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString());
  } catch {
    return INVALID_JSON;
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return NOT_AN_OBJECT;
  return frame;
}

/** Nest hands every client its own short handler list; a loop beats a Map per connection. */
function handlerFor(connection: ClientConnection, action: string): ((...args: unknown[]) => unknown) | undefined {
  const index = connection.actions.indexOf(action);
  return index === -1 ? undefined : connection.handlers[index];
}

/**
 * The 'error' listener of every socket, called with the socket as `this`. Protocol
 * violations (bad UTF-8, oversized frames) are the client's doing, so debug level.
 */
function logSocketErrorOf(logger: Logger, connections: ConnectionService) {
  return function logSocketError(this: WebSocket, err: Error): void {
    const connection = connections.connectionOf(this);
    logger.debug({ ...(connection && socketLogFields(connection)), error: err.message }, 'Socket error');
  };
}

/** One listener for every socket (the socket is `this`): it holds no request and costs no closure. */
function destroyOnError(socket: Duplex): void {
  socket.on('error', destroySocket);
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

/** How long a refused browser socket may take to answer its 4003 close. */
const REFUSED_CLOSE_WAIT_MS = 1000;

/** A close reason fits in 123 bytes of UTF-8. */
function closeReason(message: string): string {
  let reason = message;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

function rejectUpgrade(socket: Duplex, rejection: UpgradeRejected): void {
  const code = codeOfHttpStatus(rejection.status);
  const body = JSON.stringify({ statusCode: rejection.status, code, message: rejection.message });
  socket.end(
    `HTTP/1.1 ${rejection.status} ${STATUS_CODES[rejection.status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
