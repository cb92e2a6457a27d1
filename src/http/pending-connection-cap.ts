import { Logger } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** At most one warning per this many milliseconds while connections are being shed. */
const WARNING_INTERVAL_MS = 60_000;

/**
 * Caps the HTTP connections that hold no complete request: those still sending headers or
 * a body, and idle keep-alive ones. When a new connection takes their number past the cap,
 * the oldest of them is closed. A flood of slow or idle connections then cannot use up the
 * process's file descriptors, and the newest connection (a health probe, say) always gets
 * its turn, where a plain connection limit would refuse it with the flood. Connections
 * answering a request they received in full (long-polls, a POST /notify waiting for its
 * decision) are never closed here: their callers hold API keys. WebSockets leave the count
 * at their upgrade (the WebSocket adapter calls release); WEBSOCKET_MAX_CONNECTIONS caps them.
 */
export class PendingConnectionCap {
  private readonly logger = new Logger(PendingConnectionCap.name);
  /** Every HTTP socket, oldest first, with the request it is answering (null between requests). */
  private readonly sockets = new Map<Socket, IncomingMessage | null>();
  private shedSinceWarning = 0;
  private lastWarningAt = 0;

  constructor(
    private readonly max: number,
    private readonly onShed: () => void = () => undefined,
  ) {}

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (request: IncomingMessage, response: ServerResponse) => this.track(request, response));
  }

  /**
   * The socket is no HTTP connection any more (an upgrade took it). Not an 'upgrade'
   * listener of its own: the adapter removes its listener when shutting down, and a
   * listener left behind would take late upgrades and answer nothing.
   */
  release(socket: Duplex): void {
    this.sockets.delete(socket as Socket);
  }

  private admit(socket: Socket): void {
    this.sockets.set(socket, null);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.sockets.size > this.max) this.shedOldestPending();
  }

  private track(request: IncomingMessage, response: ServerResponse): void {
    const { socket } = request;
    if (!this.sockets.has(socket)) return;
    this.sockets.set(socket, request);
    response.once('close', () => {
      if (this.sockets.get(socket) === request) this.sockets.set(socket, null);
    });
  }

  /** Closes the oldest pending connection when there are more than the cap of them. */
  private shedOldestPending(): void {
    let oldest: Socket | undefined;
    let pending = 0;
    for (const [socket, request] of this.sockets) {
      if (request !== null && request.complete) continue;
      oldest ??= socket;
      pending += 1;
    }
    if (oldest === undefined || pending <= this.max) return;
    oldest.destroy();
    this.sockets.delete(oldest);
    this.onShed();
    this.warnOfShedding();
  }

  private warnOfShedding(): void {
    this.shedSinceWarning += 1;
    const now = Date.now();
    if (now - this.lastWarningAt < WARNING_INTERVAL_MS) return;
    this.logger.warn(
      { shed: this.shedSinceWarning, max: this.max },
      `Closed ${this.shedSinceWarning} HTTP connection(s) that held no complete request: more than HTTP_MAX_PENDING_CONNECTIONS=${this.max} were open`,
    );
    this.shedSinceWarning = 0;
    this.lastWarningAt = now;
  }
}
