import { Logger } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

interface SocketState {
  request: IncomingMessage | null;
  pendingSince: number;
}

/** At most one warning per this many milliseconds while connections are being shed. */
const WARNING_INTERVAL_MS = 60_000;
/**
 * A connection pending for less than this is spared while the count stays under the hard
 * ceiling: a burst of new connections (clients reconnecting after a restart) sends its
 * requests within milliseconds, a flood of slow ones does not.
 */
const GRACE_MS = 1000;
/** Past this many times the cap, even connections within their grace are closed. */
const HARD_CEILING_FACTOR = 2;

/**
 * Caps the HTTP connections that hold no complete request: those still sending headers or
 * a body, and idle keep-alive ones. When a new connection takes their number past the cap,
 * the oldest of them are closed (those pending for a second or more; any, past twice the
 * cap). A flood of slow or idle connections then cannot use up the process's file
 * descriptors, and the newest connection (a health probe, say) always gets its turn, where
 * a plain connection limit would refuse it with the flood. Connections answering a request
 * they received in full (long-polls, a POST /notify waiting for its decision) are never
 * closed here: their callers hold API keys. WebSockets leave the count at their upgrade
 * (the WebSocket adapter calls release); WEBSOCKET_MAX_CONNECTIONS caps them.
 */
export class PendingConnectionCap {
  private readonly logger = new Logger(PendingConnectionCap.name);
  /**
   * Every HTTP socket with the request it is answering (null between requests) and since
   * when it has been pending. One entry per socket for its whole life, changed in place:
   * a Map deleted from and added to on every request leaves its old tables behind when it
   * grows (V8 keeps them for iterators), and the requests those still held outlived their
   * scavenges, multiplying the garbage collector's work per request (issue 26).
   */
  private readonly sockets = new Map<Socket, SocketState>();
  /**
   * One close listener for every socket (the socket is `this`), taken off by release():
   * a closure per socket would stay on every upgraded WebSocket for its whole life.
   */
  private readonly forgetSocket = ((sockets) =>
    function forgetSocket(this: Socket): void {
      sockets.delete(this);
    })(this.sockets);
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
    socket.off('close', this.forgetSocket);
  }

  private admit(socket: Socket): void {
    this.sockets.set(socket, { request: null, pendingSince: Date.now() });
    socket.on('close', this.forgetSocket);
    if (this.sockets.size > this.max) this.shedOldestPending();
  }

  private track(request: IncomingMessage, response: ServerResponse): void {
    const { socket } = request;
    const state = this.sockets.get(socket as Socket);
    if (!state) return;
    state.request = request;
    response.once('close', () => {
      if (state.request !== request) return;
      // Idle from now on, as the newest pending connection.
      state.request = null;
      state.pendingSince = Date.now();
    });
  }

  /** Closes the oldest pending connections while there are more than the cap of them. */
  private shedOldestPending(): void {
    const pending = this.pendingOldestFirst();
    const graceStart = Date.now() - GRACE_MS;
    const overCeiling = pending.length - this.max * HARD_CEILING_FACTOR;
    let excess = pending.length - this.max;
    let shed = 0;
    for (const [socket, pendingSince] of pending) {
      if (excess <= 0 || (pendingSince > graceStart && shed >= overCeiling)) break;
      socket.destroy();
      this.sockets.delete(socket);
      excess -= 1;
      shed += 1;
    }
    for (let i = 0; i < shed; i++) this.onShed();
    if (shed > 0) this.warnOfShedding(shed);
  }

  private pendingOldestFirst(): Array<[Socket, number]> {
    const pending: Array<[Socket, number]> = [];
    for (const [socket, { request, pendingSince }] of this.sockets) {
      if (request === null || !request.complete) pending.push([socket, pendingSince]);
    }
    return pending.sort((a, b) => a[1] - b[1]);
  }

  private warnOfShedding(shed: number): void {
    this.shedSinceWarning += shed;
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
