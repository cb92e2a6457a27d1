import { BeforeApplicationShutdown, Logger, UseFilters, UsePipes } from '@nestjs/common';
import { validationPipe } from '../protocol/validation.js';
import { ConfigService } from '@nestjs/config';
import { ConnectedSocket, MessageBody, OnGatewayConnection, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import type { Environment } from '../config/environment.js';
import { ConfirmationService } from '../confirmations/confirmation.service.js';
import { currentPromptJson, promptJson } from '../confirmations/prompt-json.js';
import type { ClientConnection } from '../connections/client-connection.js';
import { closeSocket, ConnectionService } from '../connections/connection.service.js';
import { PreparedFrame } from '../connections/prepared-frame.js';
import { AckService } from '../acks/ack.service.js';
import { AckFrame, CancelFrame, ClientAction, ConfirmFrame, MAX_EPOCH_LENGTH, ResumeFrame, SubscribeFrame, UnsubscribeFrame } from '../protocol/client-frames.js';
import { CloseCode, retryAfterReason } from '../protocol/close-code.enum.js';
import { codeOfHttpStatus, ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type {
  AckAcceptedFrame,
  ConfirmationAcceptedFrame,
  ConnectedFrame,
  PongFrame,
  ServerShutdownFrame,
  SubscriptionConfirmedFrame,
  UnsubscribedFrame,
} from '../protocol/server-frames.js';
import { epochSeconds, errorFrame } from '../protocol/server-frames.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { ServerStateService } from '../health/server-state.service.js';
import { TaskAccessService } from '../tasks/task-access.service.js';
import { TaskService } from '../tasks/task.service.js';
import type { AuthenticatedRequest } from '../auth/upgrade-authenticator.js';
import { CatchUpService, ClientPosition, ResumeRequest } from './catch-up.service.js';
import { WsErrorFilter } from './ws-error.filter.js';
import { HandshakeLoad } from './handshake-load.js';

/** The socket side of the service: one handler per client action. Frames are validated against their DTOs. */
@WebSocketGateway()
@UseFilters(WsErrorFilter)
@UsePipes(validationPipe)
export class TaskGateway implements OnGatewayConnection, BeforeApplicationShutdown {
  private readonly logger = new Logger(TaskGateway.name);
  private readonly maxConnections: number;
  private readonly maxConnectionsPerUser: number;
  private readonly maxConcurrentHandshakes: number;
  /** Connections whose catch-up is still running. */
  private handshakesInFlight = 0;
  private readonly handshakeLoad = new HandshakeLoad();

  constructor(
    config: ConfigService<Environment, true>,
    private readonly connections: ConnectionService,
    private readonly confirmations: ConfirmationService,
    private readonly tasks: TaskService,
    private readonly taskAccess: TaskAccessService,
    private readonly serverState: ServerStateService,
    private readonly delivery: DeliveryService,
    private readonly catchUp: CatchUpService,
    private readonly acks: AckService,
  ) {
    this.delivery.onReconnect(() => this.resendPendingToEveryone());
    this.maxConnections = config.get('WEBSOCKET_MAX_CONNECTIONS', { infer: true });
    this.maxConnectionsPerUser = config.get('WEBSOCKET_MAX_CONNECTIONS_PER_USER', { infer: true });
    this.maxConcurrentHandshakes = config.get('WEBSOCKET_MAX_CONCURRENT_HANDSHAKES', { infer: true });
  }

  /** Runs synchronously before any frame of the socket is dispatched. */
  handleConnection(socket: WebSocket, request: AuthenticatedRequest): void {
    if (this.serverState.isShuttingDown) {
      // Upgraded just before the shutdown began: counted like the upgrades refused after it.
      this.connections.recordRefusedConnection(codeOfHttpStatus(503));
      closeSocket(socket, CloseCode.GoingAway, 'Server shutting down');
      return;
    }
    if (this.connections.count >= this.maxConnections) {
      this.connections.recordRefusedConnection(ErrorCode.CapacityExceeded);
      this.logger.warn(`Connection refused: ${this.maxConnections} connections open`);
      closeSocket(socket, CloseCode.TryAgainLater, 'Server at connection limit');
      return;
    }
    if (this.catchUp.enabled && this.handshakesInFlight >= this.maxConcurrentHandshakes) {
      // A reconnect storm: 1013 with a time to come back after (the SDK spreads its clients
      // around it), instead of every catch-up piling onto Redis at once.
      this.connections.recordRefusedConnection(ErrorCode.CapacityExceeded);
      closeSocket(socket, CloseCode.TryAgainLater, retryAfterReason('Too many connections opening', this.handshakeLoad.refused(this.handshakesInFlight, this.maxConcurrentHandshakes)));
      return;
    }
    const connection = this.connections.register(socket, request.identity);
    if (connection.userId !== null) void this.delivery.admitUserConnection(connection, this.maxConnectionsPerUser);
    const connected: ConnectedFrame = {
      type: 'connected',
      connection_id: connection.id,
      user_id: connection.userId,
      server_time: epochSeconds(),
    };
    if (!this.catchUp.enabled) {
      this.connections.sendFrame(connection, connected);
      void this.deliverPendingConfirmations(connection);
      void this.acks.resendToUser(connection);
      return;
    }
    // Held from the start: frames that reach this instance before the catch-up read the
    // history (the broadcast channel, another tab's user channel) must not overtake it.
    this.connections.hold(connection);
    void this.open(connection, connected, resumeRequestOf(request.url));
  }

  /** `connected` with the stream positions, what a resuming client missed, then pending prompts unless nothing was missed. */
  private async open(connection: ClientConnection, connected: ConnectedFrame, request: ResumeRequest | GatewayError): Promise<void> {
    let recovered = false;
    const startedAt = Date.now();
    this.handshakesInFlight += 1;
    try {
      recovered = await this.catchUp.exclusive(connection, async () => {
        // Read the positions only once live frames reach this instance: a frame published
        // before would be counted as sent and never arrive.
        await this.delivery.broadcastReachable();
        if (connection.userId !== null) await this.delivery.userReachable(connection.userId);
        return this.catchUp.open(connection, connected, request instanceof GatewayError ? {} : request);
      });
      if (request instanceof GatewayError) this.connections.sendFrame(connection, errorFrame(request.code, request.message, ClientAction.Resume));
    } catch (err) {
      this.logger.warn(`Catch-up of ${connection.id} failed: ${(err as Error).message}`);
    } finally {
      this.handshakesInFlight -= 1;
      this.handshakeLoad.finished(startedAt);
      this.connections.release(connection, NOTHING_CAUGHT_UP);
    }
    if (!recovered) void this.deliverPendingConfirmations(connection);
    // Prompts for its groups have no history to recover from: a member gets them again.
    else if (connection.groups.length > 0) void this.deliverPendingConfirmations(connection, true);
    void this.acks.resendToUser(connection);
  }

  /**
   * Tells every client to go elsewhere and closes its socket before the HTTP server
   * closes (which waits for upgraded sockets too). Peers that do not finish the close
   * handshake in time are cut off.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const open = [...this.connections.all()];
    const closed = open.map((c) => new Promise((resolve) => c.socket.once('close', resolve)));
    for (const connection of open) {
      const goodbye: ServerShutdownFrame = { type: 'server_shutdown', timestamp: epochSeconds() };
      this.connections.sendFrame(connection, goodbye);
      connection.socket.close(CloseCode.GoingAway, 'Server shutting down');
    }
    await Promise.race([Promise.all(closed), sleep(SHUTDOWN_CLOSE_GRACE_MS)]);
    for (const connection of open) connection.socket.terminate();
  }

  @SubscribeMessage(ClientAction.Confirm)
  async confirm(
    @ConnectedSocket() socket: WebSocket,
    @MessageBody() frame: ConfirmFrame,
  ): Promise<ConfirmationAcceptedFrame> {
    const connection = this.connectionOf(socket);
    const feedback = frame.feedback ?? null;
    const userId = requireUser(connection);
    if (frame.option == null && frame.data == null && connection.groups.length === 0) {
      const proceed = frame.proceed ?? false;
      const answered = await this.confirmations.answer(frame.callback_id, userId, proceed, feedback, connection.id);
      const accepted: ConfirmationAcceptedFrame = { type: 'confirmation_accepted', callback_id: frame.callback_id, proceed, feedback, timestamp: epochSeconds() };
      return answered.approval ? { ...accepted, state: answered.state } : accepted;
    }
    // An option decides proceed; the reply says what was taken.
    const answered = await this.confirmations.answer(frame.callback_id, userId, frame.proceed ?? false, feedback, connection.id, {
      ...(frame.option != null && { option: frame.option }),
      ...(frame.data != null && { data: frame.data }),
      groups: connection.groups,
      proceedGiven: frame.proceed != null,
    });
    const chosen = frame.option == null ? undefined : answered.approval?.options?.find((o) => o.id === frame.option);
    const proceed = chosen ? chosen.proceed : (frame.proceed ?? false);
    const accepted: ConfirmationAcceptedFrame = { type: 'confirmation_accepted', callback_id: frame.callback_id, proceed, feedback, timestamp: epochSeconds() };
    return answered.approval ? { ...accepted, state: answered.state } : accepted;
  }

  @SubscribeMessage(ClientAction.Cancel)
  async cancel(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: CancelFrame): Promise<void> {
    const connection = this.connectionOf(socket);
    const userId = requireUser(connection);
    if (frame.user_id !== undefined && frame.user_id !== userId) {
      throw new GatewayError(ErrorCode.Forbidden, 'A connection may only cancel its own user\'s tasks');
    }
    await this.tasks.cancel(userId, frame.task_id, connection.id);
  }

  @SubscribeMessage(ClientAction.Ping)
  ping(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: Record<string, unknown>): PongFrame {
    return { type: 'pong', timestamp: epochSeconds(), original_data: frame, rtt_ms: this.connectionOf(socket).rttMs };
  }

  @SubscribeMessage(ClientAction.Resume)
  async resume(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: ResumeFrame): Promise<void> {
    const connection = this.connectionOf(socket);
    if (!this.catchUp.enabled) throw new GatewayError(ErrorCode.InvalidMessage, 'History is off on this server (HISTORY_SIZE=0): nothing to resume');
    const request: ResumeRequest = {
      user: positionOf(frame.epoch, frame.offset, 'epoch', 'offset'),
      broadcast: positionOf(frame.broadcast_epoch, frame.broadcast_offset, 'broadcast_epoch', 'broadcast_offset'),
    };
    if (!request.user && !request.broadcast) throw new GatewayError(ErrorCode.InvalidMessage, 'resume needs epoch and offset, broadcast_epoch and broadcast_offset, or both pairs');
    if (request.user && connection.userId === null) throw identityRequired();
    if (this.catchUp.isResuming(connection)) throw new GatewayError(ErrorCode.ResumeInProgress, 'A resume is already running on this connection: wait for its resumed frames');
    const user = await this.catchUp.resume(connection, request);
    // A position this connection was sent already needs nothing again, prompts and acks included.
    if (!user.reachedBack) return;
    if (!user.recovered) void this.deliverPendingConfirmations(connection);
    void this.acks.resendToUser(connection);
  }

  @SubscribeMessage(ClientAction.Ack)
  async ack(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: AckFrame): Promise<AckAcceptedFrame> {
    const connection = this.connectionOf(socket);
    const userId = requireUser(connection);
    const acked = await this.acks.ack(frame.message_id, userId, connection.id, (taskId) => this.taskAccess.mayFollow(userId, taskId));
    return { type: 'ack_accepted', message_id: acked.messageId, acked_at: epochSeconds(acked.ackedAt ?? Date.now()) };
  }

  @SubscribeMessage(ClientAction.Subscribe)
  async subscribe(
    @ConnectedSocket() socket: WebSocket,
    @MessageBody() frame: SubscribeFrame,
  ): Promise<SubscriptionConfirmedFrame | undefined> {
    const connection = this.connectionOf(socket);
    if (frame.user_id === undefined && frame.task_id === undefined) {
      throw new GatewayError(ErrorCode.InvalidMessage, 'subscribe needs user_id, task_id or both');
    }
    // Every check comes before any change, so a refused subscribe changes nothing, and a
    // foreign user_id is refused before the task check could say anything about that user.
    if (frame.user_id !== undefined) checkMayAdopt(connection, frame.user_id);
    const userId = frame.user_id ?? connection.userId;
    if (frame.task_id !== undefined) await this.checkMayFollow(userId, frame.task_id);
    const taskFrom = positionOf(frame.task_epoch, frame.task_offset, 'task_epoch', 'task_offset');
    if (taskFrom && frame.task_id === undefined) throw new GatewayError(ErrorCode.InvalidMessage, 'task_epoch and task_offset need task_id');
    const adopted = frame.user_id !== undefined && connection.userId !== frame.user_id;
    if (frame.user_id !== undefined) this.adoptUser(connection, frame.user_id);
    // Held from before the subscription: task frames must not overtake the catch-up.
    const holding = this.catchUp.enabled && frame.task_id !== undefined;
    if (holding) this.connections.hold(connection);
    try {
      return await this.followAndReply(connection, frame, adopted, taskFrom);
    } finally {
      if (holding) this.connections.release(connection, NOTHING_CAUGHT_UP);
    }
  }

  private async followAndReply(connection: ClientConnection, frame: SubscribeFrame, adopted: boolean, taskFrom: ClientPosition | undefined): Promise<SubscriptionConfirmedFrame | undefined> {
    if (frame.task_id !== undefined) this.connections.subscribeTask(connection, frame.task_id);
    const reply: SubscriptionConfirmedFrame = {
      type: 'subscription_confirmed',
      user_id: connection.userId,
      ...(frame.task_id !== undefined && { task_id: frame.task_id }),
      subscribed_tasks: [...connection.tasks],
    };
    if (!this.catchUp.enabled) {
      if (frame.task_id !== undefined) setImmediate(() => void this.acks.resendForTask(connection, frame.task_id as string));
      return reply;
    }
    if (adopted && connection.userId !== null) {
      const position = await this.catchUp.adoptUser(connection, connection.userId);
      reply.epoch = position.epoch;
      reply.offset = position.offset;
    }
    if (frame.task_id === undefined) return reply;
    await this.delivery.taskReachable(frame.task_id);
    await this.catchUp.followTask(connection, frame.task_id, reply, taskFrom);
    void this.acks.resendForTask(connection, frame.task_id);
    return undefined;
  }

  @SubscribeMessage(ClientAction.Unsubscribe)
  unsubscribe(
    @ConnectedSocket() socket: WebSocket,
    @MessageBody() frame: UnsubscribeFrame,
  ): UnsubscribedFrame {
    const connection = this.connectionOf(socket);
    this.connections.unsubscribeTask(connection, frame.task_id);
    return { type: 'unsubscribed', task_id: frame.task_id, subscribed_tasks: [...connection.tasks] };
  }

  private async checkMayFollow(userId: string | null, taskId: string): Promise<void> {
    if (userId === null) throw identityRequired();
    if (!(await this.taskAccess.mayFollow(userId, taskId))) {
      throw new GatewayError(ErrorCode.Forbidden, `Task ${taskId} does not concern this user`);
    }
  }

  private adoptUser(connection: ClientConnection, userId: string): void {
    if (connection.userId === userId) return;
    this.connections.identify(connection, userId);
    void this.delivery.admitUserConnection(connection, this.maxConnectionsPerUser);
    void this.deliverPendingConfirmations(connection);
  }

  /**
   * Sends the user's pending prompts to a new connection. Frames for the user reach this
   * instance first, then the store is read, so a prompt made meanwhile may come twice
   * (clients keep prompts by callback_id) but is never missed.
   */
  private async deliverPendingConfirmations(connection: ClientConnection, onlyGroups = false): Promise<void> {
    const userId = connection.userId;
    if (userId === null) return;
    try {
      await this.delivery.userReachable(userId);
      // Both reads at once: an approver's listing costs a connect no extra wait.
      const [own, approving] = await Promise.all([
        onlyGroups ? [] : this.confirmations.pendingForUser(userId),
        this.confirmations.pendingForApprover(userId, connection.groups),
      ]);
      const sent = new Set<string>();
      for (const confirmation of [...own, ...approving]) {
        if (sent.has(confirmation.callbackId)) continue;
        sent.add(confirmation.callbackId);
        const prompt = confirmation.approval ? currentPromptJson(confirmation) : promptJson(confirmation);
        if (prompt !== null && connection.socket.readyState === connection.socket.OPEN) {
          this.connections.send(connection, new PreparedFrame(prompt));
        }
      }
    } catch (err) {
      this.logger.warn(`Pending prompts for ${connection.id} not sent now: ${(err as Error).message}`);
    }
  }

  /** After a shared-bus outage prompts may have been missed: every local user gets theirs again. */
  private resendPendingToEveryone(): void {
    for (const connection of [...this.connections.all()]) void this.deliverPendingConfirmations(connection);
  }

  private connectionOf(socket: WebSocket): ClientConnection {
    const connection = this.connections.connectionOf(socket);
    if (!connection) throw new GatewayError(ErrorCode.InternalError, 'Connection is not registered');
    return connection;
  }
}

const SHUTDOWN_CLOSE_GRACE_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Both halves of a stream position, or neither. */
function positionOf(epoch: string | undefined, offset: number | undefined, epochName: string, offsetName: string): ClientPosition | undefined {
  if (epoch === undefined && offset === undefined) return undefined;
  if (epoch === undefined || offset === undefined) throw new GatewayError(ErrorCode.InvalidMessage, `${epochName} and ${offsetName} go together`);
  return { epoch, offset };
}

const NOTHING_CAUGHT_UP: ReadonlyMap<string, number> = new Map();

const OFFSET_PATTERN = /^\d{1,15}$/;

/** `?epoch=&offset=` (and `broadcast_epoch=&broadcast_offset=`) on the upgrade URL; a malformed pair is an error frame. */
function resumeRequestOf(url: string | undefined): ResumeRequest | GatewayError {
  const params = new URL(url ?? '/', 'http://upgrade').searchParams;
  const pair = (epochName: string, offsetName: string): ClientPosition | undefined => {
    const epoch = params.get(epochName) ?? undefined;
    const offset = params.get(offsetName) ?? undefined;
    if (epoch === undefined && offset === undefined) return undefined;
    if (epoch === undefined || offset === undefined || epoch === '' || epoch.length > MAX_EPOCH_LENGTH || !OFFSET_PATTERN.test(offset)) {
      throw new GatewayError(ErrorCode.InvalidMessage, `${epochName} (1-${MAX_EPOCH_LENGTH} characters) and ${offsetName} (a whole number) go together`);
    }
    return { epoch, offset: Number(offset) };
  };
  try {
    return { user: pair('epoch', 'offset'), broadcast: pair('broadcast_epoch', 'broadcast_offset') };
  } catch (err) {
    return err as GatewayError;
  }
}

/** A connection takes on a user once; switching to another user is refused. */
function checkMayAdopt(connection: ClientConnection, userId: string): void {
  if (connection.userId !== null && connection.userId !== userId) {
    throw new GatewayError(ErrorCode.Forbidden, 'This connection already belongs to another user');
  }
}

function requireUser(connection: ClientConnection): string {
  if (connection.userId === null) throw identityRequired();
  return connection.userId;
}

function identityRequired(): GatewayError {
  return new GatewayError(
    ErrorCode.IdentityRequired,
    'Identify first: connect with ?user_id= (or a token) or send {"action":"subscribe","user_id":...}',
  );
}
