import { backoffDelay, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { GatewayRequestError, requestErrorOf } from './errors.js';
import { PromptBook, type AnswerInput, type Prompt, type PromptReminder, type PromptResolution, type PromptVote } from './prompts.js';
import {
  ClientAction,
  CloseCode,
  ErrorCode,
  GATEWAY_SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  type CancelFrame,
  type ConfirmationAcceptedFrame,
  type ConfirmFrame,
  type ConnectedFrame,
  type ConventionalFrames,
  type CustomFrame,
  type ErrorFrame,
  type HeartbeatFrame,
  type PersonalNotificationFrame,
  type PongFrame,
  type ResumedFrame,
  type ServerFrame,
  type ServerFrames,
  type ServerShutdownFrame,
  type SubscribeFrame,
  type SubscriptionConfirmedFrame,
  type SystemNotificationFrame,
  type TaskCancelledFrame,
  type TaskProgressFrame,
  type UnsubscribedFrame,
  type UnsubscribeFrame,
} from './protocol.js';

export type ConnectionState = 'disconnected' | 'connecting' | 'connected';

/** Any WebSocket class with the browser's API: the global one, or `ws` in Node. */
export type WebSocketImplementation = new (url: string, protocols?: string | string[]) => unknown;

export interface GatewayClientOptions {
  /** The gateway's WebSocket URL, e.g. `wss://gateway.example.com/ws`. */
  url: string;
  /** The user, for a gateway with `AUTH_MODE=none` (sent as `?user_id=`). */
  userId?: string;
  /**
   * For `AUTH_MODE=jwt`: returns a token. Called before every connect, and again at once
   * when the server closes because the token expired (4001). The token travels as the
   * `bearer.<token>` subprotocol beside `gateway.v1`, so it stays out of URLs and access
   * logs; the server selects `gateway.v1` and never echoes the token.
   */
  getToken?: () => string | Promise<string>;
  /** The WebSocket class. Defaults to the global one; pass `ws`'s in Node 20. */
  WebSocket?: WebSocketImplementation;
  /** Back-off between reconnects (defaults 500 ms, 20 s); `enabled: false` never reconnects. */
  reconnect?: BackoffOptions & { enabled?: boolean };
  /** Milliseconds between pings that measure RTT and detect a dead connection. Default 25000; 0 turns them off. */
  pingIntervalMs?: number;
  /** Milliseconds to wait for a reply before reconnecting. Default 10000. */
  requestTimeoutMs?: number;
  /**
   * Milliseconds the opening handshake (the server's `connected`, the catch-up and the first
   * pong) may take before the client gives up on it and reconnects. Default 30000: in a
   * reconnect storm the server answers late, and a handshake abandoned is work both sides
   * throw away, to queue again at the back (with 10 s, 10,000 clients reconnecting at once
   * took 30 to 133 s to be back; with 30 s, 20 s).
   */
  handshakeTimeoutMs?: number;
  /**
   * Resume after a reconnect (default true): the client keeps each stream's epoch and
   * offset and reconnects with them, so frames sent while it was away arrive once, in order.
   */
  resume?: boolean;
}

/** A position in one of the server's streams (see docs/PROTOCOL.md §1.8). */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Why the last connection closed or could not open. */
  reason?: string;
  closeCode?: number;
  /** Set while waiting to reconnect: the retry number (from 1) and its delay. */
  attempt?: number;
  retryInMs?: number;
  /** The client stopped for good: refused, told not to come back, or disconnect() was called. */
  stopped?: boolean;
}

export type Notice = SystemNotificationFrame | PersonalNotificationFrame;

export interface GatewayClientEvents {
  state: StateChange;
  /** A prompt arrived (once per prompt, also across reconnects). */
  prompt: Prompt;
  /** A prompt is no longer pending: answered here or elsewhere, timed out, cancelled. */
  promptResolved: PromptResolution;
  /** An approver voted on a pending prompt without settling it (`confirmation_vote`); `prompt.votes` is updated. */
  vote: PromptVote;
  /** A prompt was shown again by a reminder (also when it first arrives as one); `prompt.reminder` is its number. */
  reminder: PromptReminder;
  taskProgress: TaskProgressFrame;
  heartbeat: HeartbeatFrame;
  taskCancelled: TaskCancelledFrame;
  /** `system_notification` and `personal_notification` frames. */
  notice: Notice;
  /** The server is going away; the client reconnects after the close. */
  shutdown: ServerShutdownFrame;
  /** An `error` frame that answers none of this client's requests (e.g. `rate_limited`). */
  error: ErrorFrame;
  /** A measured round trip, in milliseconds. */
  rtt: number;
  /** Every frame received, before any other event. */
  frame: ServerFrame | CustomFrame;
  /** A caller-defined frame of a type this client does not know. */
  message: CustomFrame;
  /**
   * A catch-up after a reconnect ended. `recovered: false` means frames may be missing
   * (the server lost its history, or the client was away too long): refetch state.
   */
  resumed: ResumedFrame;
}

/** The subset of the WebSocket API the client uses (browsers and `ws` both have it). */
interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: { message?: string }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
}

type RequestAction = ClientAction.Confirm | ClientAction.Cancel | ClientAction.Subscribe | ClientAction.Unsubscribe;

interface PendingRequest {
  frame: { action: RequestAction } & (ConfirmFrame | CancelFrame | SubscribeFrame | UnsubscribeFrame);
  matches(reply: ServerFrame): boolean;
  resolve(reply: ServerFrame): void;
  reject(error: GatewayRequestError): void;
}

interface PendingPing {
  sentAt: number;
  resolve(rttMs: number): void;
  reject(error: GatewayRequestError): void;
  timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;
/** `requires_ack` message ids remembered to report each message once. */
const SEEN_MESSAGE_IDS = 1000;
const SOCKET_CLOSE_NORMAL = 1000;
const SOCKET_CLOSE_NO_REPLY = 4000;
const OPEN_STATE_CONNECTING = 0;
/** A 4001 soon after connecting means the fresh token is already expired: back off instead. */
const MIN_TOKEN_LIFETIME_MS = 2000;
const READY_STATE_CLOSED = 3;

/** Closes after which reconnecting would only repeat the refusal. */
const FINAL_CLOSES: ReadonlyMap<number, string> = new Map([
  [CloseCode.PolicyViolation, 'closed for flooding the server (1008)'],
  [CloseCode.ReplacedByNewerConnection, 'replaced by a newer connection of the same user (4008)'],
]);

/** Upgrade refusals that a retry cannot fix (`ws` reports the status; browsers cannot see it). */
const FINAL_REFUSALS: ReadonlyMap<number, string> = new Map([
  [400, 'the server refused the connection request (400)'],
  [401, 'the server refused the credentials (401)'],
  [403, 'this origin is not allowed (403)'],
  [404, 'no WebSocket endpoint at this URL (404)'],
]);

/**
 * A connection to the confirmation gateway for one user: keeps itself connected, keeps the
 * user's pending prompts in step with the server, and turns replies into promises.
 * All incoming frames go through `handlers` below.
 */
export class GatewayClient extends Emitter<GatewayClientEvents> {
  private currentState: ConnectionState = 'disconnected';
  private socket: SocketLike | null = null;
  /** Incremented per socket: events of an older socket are ignored. */
  private generation = 0;
  private running = false;
  private attempt = 0;
  /** The connection has received `connected`; requests may be sent. */
  private ready = false;
  private connectedAt = 0;
  private lastRefusal: number | null = null;
  private retriedRefusal = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private nextPingId = 1;
  private readonly pings = new Map<number, PendingPing>();
  /** One request of each action in flight at a time: replies carry no request id. */
  private readonly lanes = new Map<RequestAction, PendingRequest[]>();
  private readonly followedTasks = new Set<string>();
  /** Where this client is in each stream: the user's, the broadcasts', each followed task's. */
  private userPosition: StreamPosition | null = null;
  private broadcastPosition: StreamPosition | null = null;
  private readonly taskPositions = new Map<string, StreamPosition>();
  /** Ids of `requires_ack` messages already reported, oldest first. */
  private readonly seenMessageIds = new Set<string>();
  private readonly prompts: PromptBook;
  private readonly options: Required<Pick<GatewayClientOptions, 'pingIntervalMs' | 'requestTimeoutMs' | 'handshakeTimeoutMs'>> & GatewayClientOptions;
  private readonly onOnline = () => this.retryNow();

  /** The connection's id and user, from its `connected` frame. */
  connectionId: string | null = null;
  userId: string | null = null;
  /** Why the client stopped for good, when it did. */
  stopReason: string | null = null;
  /** Server clock minus this clock, in ms, as of the last `connected` frame (for countdowns to `expires_at`). */
  serverClockOffsetMs = 0;

  constructor(options: GatewayClientOptions) {
    super();
    this.options = { pingIntervalMs: 25_000, requestTimeoutMs: 10_000, handshakeTimeoutMs: 30_000, resume: true, ...options };
    this.prompts = new PromptBook(
      {
        added: (prompt) => this.emit('prompt', prompt),
        resolved: (resolution) => this.emit('promptResolved', resolution),
        vote: (vote) => this.emit('vote', vote),
        reminder: (reminder) => this.emit('reminder', reminder),
      },
      (callbackId, input) => this.answer(callbackId, input),
    );
    this.prompts.userId = () => this.userId;
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** Starts connecting (and reconnecting). Does nothing when already started. */
  connect(): void {
    if (this.running) return;
    this.running = true;
    this.stopReason = null;
    this.attempt = 0;
    this.retriedRefusal = false;
    addGlobalListener('online', this.onOnline);
    void this.open();
  }

  /** Closes the connection and stops reconnecting. */
  disconnect(): void {
    this.stop('disconnect() was called');
  }

  /** Skips the current back-off wait (the browser's `online` event does this too). */
  retryNow(): void {
    if (!this.running || this.retryTimer === null) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.open();
  }

  /** The client's stream positions: what it would resume from after a reconnect. */
  positions(): { user: StreamPosition | null; broadcast: StreamPosition | null; tasks: Record<string, StreamPosition> } {
    return { user: this.userPosition, broadcast: this.broadcastPosition, tasks: Object.fromEntries(this.taskPositions) };
  }

  /** The prompts waiting for an answer, oldest first. */
  pendingPrompts(): Prompt[] {
    return this.prompts.list();
  }

  /**
   * Answers a prompt: `answer(id, true, 'note')`, or `answer(id, { option, data, feedback })`
   * for a prompt with options or a form (an option's `proceed` is filled in from the prompt).
   * Rejects with a GatewayRequestError whose `code` says why (`already_resolved`,
   * `forbidden`...): an InvalidAnswerError (`field`) when the server refused the option or
   * the data, an ApprovalRefusedError when this user may not vote.
   */
  answer(callbackId: string, proceed: boolean, feedback?: string): Promise<ConfirmationAcceptedFrame>;
  answer(callbackId: string, input: AnswerInput): Promise<ConfirmationAcceptedFrame>;
  answer(callbackId: string, first: boolean | AnswerInput, feedback?: string): Promise<ConfirmationAcceptedFrame> {
    const input: AnswerInput = typeof first === 'boolean' ? { proceed: first, feedback } : first;
    const frame: PendingRequest['frame'] = { action: ClientAction.Confirm, callback_id: callbackId };
    const proceed = input.proceed ?? (input.option !== undefined ? this.prompts.get(callbackId)?.option(input.option)?.proceed : undefined);
    if (proceed !== undefined) frame.proceed = proceed;
    if (input.option !== undefined) frame.option = input.option;
    if (input.data !== undefined) frame.data = input.data;
    if (input.feedback !== undefined && input.feedback !== '') frame.feedback = input.feedback;
    return this.request(frame, (reply) => reply.type === 'confirmation_accepted' && reply.callback_id === callbackId) as Promise<ConfirmationAcceptedFrame>;
  }

  /** Cancels one of the user's tasks; resolves on its `task_cancelled`. */
  cancelTask(taskId: string): Promise<TaskCancelledFrame> {
    return this.request({ action: ClientAction.Cancel, task_id: taskId }, (reply) => reply.type === 'task_cancelled' && reply.task_id === taskId) as Promise<TaskCancelledFrame>;
  }

  /** Follows a task's heartbeats, messages and cancellation; renewed after every reconnect. */
  async subscribeTask(taskId: string): Promise<SubscriptionConfirmedFrame> {
    const reply = await this.requestSubscribe(taskId);
    this.followedTasks.add(taskId);
    return reply;
  }

  async unsubscribeTask(taskId: string): Promise<UnsubscribedFrame> {
    this.followedTasks.delete(taskId);
    this.taskPositions.delete(taskId);
    return (await this.request({ action: ClientAction.Unsubscribe, task_id: taskId }, (reply) => reply.type === 'unsubscribed' && reply.task_id === taskId)) as UnsubscribedFrame;
  }

  /** Measures one round trip to the server, in milliseconds. */
  ping(): Promise<number> {
    if (!this.ready) return Promise.reject(new GatewayRequestError('not_connected', 'Not connected to the gateway', ClientAction.Ping));
    return new Promise((resolve, reject) => this.sendPing(resolve, reject));
  }

  // --- incoming frames: the one place that knows every frame type -------------------------

  private readonly handlers: { [K in keyof ServerFrames]: (frame: ServerFrames[K]) => void } = {
    connected: (frame) => this.onConnected(frame),
    task_step_result: (frame) => this.prompts.onStepResult(frame),
    confirmation_accepted: (frame) => {
      const sent = this.lanes.get(ClientAction.Confirm)?.[0]?.frame as ConfirmFrame | undefined;
      this.prompts.onAccepted(frame, sent?.callback_id === frame.callback_id ? sent : undefined);
      this.settle(ClientAction.Confirm, frame);
    },
    confirmation_resolved: (frame) => this.prompts.onResolved(frame),
    confirmation_vote: (frame) => this.prompts.onVote(frame),
    task_cancelled: (frame) => {
      this.settle(ClientAction.Cancel, frame);
      this.emit('taskCancelled', frame);
    },
    pong: (frame) => this.onPong(frame),
    subscription_confirmed: (frame) => {
      if (frame.task_id !== undefined && frame.task_epoch !== undefined && frame.task_offset !== undefined && !this.taskPositions.has(frame.task_id)) {
        this.taskPositions.set(frame.task_id, { epoch: frame.task_epoch, offset: frame.task_offset });
      }
      this.settle(ClientAction.Subscribe, frame);
    },
    resumed: (frame) => this.onResumed(frame),
    ack_accepted: () => undefined,
    unsubscribed: (frame) => this.settle(ClientAction.Unsubscribe, frame),
    heartbeat: (frame) => this.emit('heartbeat', frame),
    server_shutdown: (frame) => this.emit('shutdown', frame),
    error: (frame) => this.onErrorFrame(frame),
  };

  private readonly conventionalHandlers: { [K in keyof ConventionalFrames]: (frame: ConventionalFrames[K]) => void } = {
    task_progress: (frame) => this.emit('taskProgress', frame),
    system_notification: (frame) => this.emit('notice', frame),
    personal_notification: (frame) => this.emit('notice', frame),
  };

  private onFrame(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return; // the server sends JSON only; anything else is not ours to interpret
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return;
    if (!this.advance(frame as Record<string, unknown>)) return;
    if (!this.acknowledge(frame as Record<string, unknown>)) return;
    this.emit('frame', frame as ServerFrame | CustomFrame);
    const type = (frame as { type?: unknown }).type;
    if (typeof type === 'string' && Object.hasOwn(this.handlers, type)) {
      (this.handlers[type as keyof ServerFrames] as (frame: ServerFrame) => void)(frame as ServerFrame);
    } else if (typeof type === 'string' && Object.hasOwn(this.conventionalHandlers, type)) {
      (this.conventionalHandlers[type as keyof ConventionalFrames] as (frame: unknown) => void)(frame);
    } else {
      this.emit('message', frame as CustomFrame);
    }
  }

  /**
   * Moves the frame's stream position on; false for a frame at or before it (already
   * seen), which the server does not send but a client can cheaply make sure of.
   */
  private advance(frame: Record<string, unknown>): boolean {
    const track = (position: StreamPosition | null | undefined, offset: unknown): boolean => {
      if (typeof offset !== 'number' || !position) return true;
      if (offset <= position.offset) return false;
      position.offset = offset;
      return true;
    };
    if (frame.offset !== undefined && frame.type !== 'resumed' && frame.type !== 'subscription_confirmed' && frame.type !== 'connected') return track(this.userPosition, frame.offset);
    if (frame.broadcast_offset !== undefined && frame.type !== 'connected') return track(this.broadcastPosition, frame.broadcast_offset);
    if (frame.task_offset !== undefined && frame.type !== 'subscription_confirmed' && typeof frame.task_id === 'string') return track(this.taskPositions.get(frame.task_id), frame.task_offset);
    return true;
  }

  /**
   * Answers `requires_ack` messages with an ack. The server sends an unacknowledged message
   * again on every new connection until the ack lands, so a repeat is acknowledged again
   * but not reported twice: false for one already seen.
   */
  private acknowledge(frame: Record<string, unknown>): boolean {
    if (frame.requires_ack !== true || typeof frame.message_id !== 'string') return true;
    this.send({ action: ClientAction.Ack, message_id: frame.message_id });
    if (this.seenMessageIds.has(frame.message_id)) return false;
    this.seenMessageIds.add(frame.message_id);
    if (this.seenMessageIds.size > SEEN_MESSAGE_IDS) this.seenMessageIds.delete(this.seenMessageIds.values().next().value as string);
    return true;
  }

  private onResumed(frame: ResumedFrame): void {
    const position = frame.stream === 'user' ? this.userPosition : frame.stream === 'broadcast' ? this.broadcastPosition : this.taskPositions.get(frame.task_id ?? '');
    if (position) {
      position.epoch = frame.epoch;
      // Not recovered: what is missing is gone; carry on from where the stream is now.
      if (!frame.recovered || frame.offset > position.offset) position.offset = frame.offset;
    }
    // Every prompt and resolution since the last position came again: none was re-sent as pending.
    if (frame.stream === 'user' && frame.recovered) this.prompts.keepAfterResume();
    this.emit('resumed', frame);
  }

  private onConnected(frame: ConnectedFrame): void {
    if (this.options.resume) {
      if (!this.userPosition && frame.epoch !== undefined && frame.offset !== undefined) this.userPosition = { epoch: frame.epoch, offset: frame.offset };
      if (!this.broadcastPosition && frame.broadcast_epoch !== undefined && frame.broadcast_offset !== undefined) {
        this.broadcastPosition = { epoch: frame.broadcast_epoch, offset: frame.broadcast_offset };
      }
    }
    this.connectionId = frame.connection_id;
    this.userId = frame.user_id;
    this.ready = true;
    this.connectedAt = Date.now();
    this.serverClockOffsetMs = Math.round(frame.server_time * 1000 - this.connectedAt);
    // The server re-sends every pending prompt right after `connected` and answers frames
    // in order, so by the pong of a ping sent now every re-sent prompt has arrived.
    this.prompts.beginResync();
    for (const taskId of this.followedTasks) {
      this.requestSubscribe(taskId).catch(() => this.followedTasks.delete(taskId));
    }
    // Part of the handshake: its time is the handshake's.
    this.sendPing(
      () => this.onSynced(),
      () => undefined,
      this.options.handshakeTimeoutMs,
    );
  }

  private onSynced(): void {
    this.clearHandshakeTimer();
    this.prompts.endResync();
    this.attempt = 0;
    this.lastRefusal = null;
    this.retriedRefusal = false;
    this.setState('connected', {});
    if (this.options.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => void this.ping().catch(() => undefined), this.options.pingIntervalMs);
    }
  }

  private onPong(frame: PongFrame): void {
    const id = (frame.original_data as { sdk_ping?: unknown } | null)?.sdk_ping;
    const pending = typeof id === 'number' ? this.pings.get(id) : undefined;
    if (!pending) return;
    this.pings.delete(id as number);
    clearTimeout(pending.timer);
    const rtt = Date.now() - pending.sentAt;
    this.emit('rtt', rtt);
    pending.resolve(rtt);
  }

  private onErrorFrame(frame: ErrorFrame): void {
    const action = frame.action as RequestAction | undefined;
    const head = action === undefined ? undefined : this.lanes.get(action)?.[0];
    if (!head || action === undefined) {
      this.emit('error', frame);
      return;
    }
    if (action === ClientAction.Confirm && (frame.code === ErrorCode.AlreadyResolved || frame.code === ErrorCode.CallbackNotFound)) {
      this.prompts.onSettledElsewhere((head.frame as ConfirmFrame).callback_id);
    }
    this.finishHead(action, (request) => request.reject(requestErrorOf(frame.code, frame.message, action, frame.field)));
  }

  // --- requests ----------------------------------------------------------------------------

  private requestSubscribe(taskId: string): Promise<SubscriptionConfirmedFrame> {
    const position = this.options.resume ? this.taskPositions.get(taskId) : undefined;
    const frame: SubscribeFrame & { action: ClientAction.Subscribe } = { action: ClientAction.Subscribe, task_id: taskId };
    if (position) Object.assign(frame, { task_epoch: position.epoch, task_offset: position.offset });
    return this.request(frame, (reply) => reply.type === 'subscription_confirmed' && reply.task_id === taskId) as Promise<SubscriptionConfirmedFrame>;
  }

  private request(frame: PendingRequest['frame'], matches: PendingRequest['matches']): Promise<ServerFrame> {
    if (!this.ready) return Promise.reject(new GatewayRequestError('not_connected', 'Not connected to the gateway', frame.action));
    return new Promise((resolve, reject) => {
      let lane = this.lanes.get(frame.action);
      if (!lane) this.lanes.set(frame.action, (lane = []));
      lane.push({ frame, matches, resolve, reject });
      if (lane.length === 1) this.sendHead(frame.action);
    });
  }

  private sendHead(action: RequestAction): void {
    const head = this.lanes.get(action)?.[0];
    if (head) this.sendRequestFrame(head.frame, action);
  }

  private readonly requestTimers = new Map<RequestAction, ReturnType<typeof setTimeout>>();

  private sendRequestFrame(frame: PendingRequest['frame'], action: RequestAction): void {
    this.send(frame);
    this.requestTimers.set(
      action,
      setTimeout(() => {
        // No reply: the connection is not healthy. Drop it; the reconnect re-syncs everything.
        this.finishHead(action, (request) => request.reject(new GatewayRequestError('timeout', `No reply to ${action} within ${this.options.requestTimeoutMs} ms`, action)));
        this.dropConnection('no reply in time');
      }, this.options.requestTimeoutMs),
    );
  }

  /** Resolves the action's request in flight if `reply` answers it. */
  private settle(action: RequestAction, reply: ServerFrame): void {
    const head = this.lanes.get(action)?.[0];
    if (head?.matches(reply)) this.finishHead(action, (request) => request.resolve(reply));
  }

  private finishHead(action: RequestAction, finish: (request: PendingRequest) => void): void {
    const lane = this.lanes.get(action);
    const head = lane?.shift();
    clearTimeout(this.requestTimers.get(action));
    this.requestTimers.delete(action);
    if (head) finish(head);
    if (lane?.length) this.sendHead(action);
  }

  private failAllRequests(code: 'disconnected' | 'closed', message: string): void {
    const lanes = [...this.lanes.entries()];
    this.lanes.clear();
    for (const timer of this.requestTimers.values()) clearTimeout(timer);
    this.requestTimers.clear();
    for (const [action, lane] of lanes) for (const request of lane) request.reject(new GatewayRequestError(code, message, action));
    const pings = [...this.pings.values()];
    this.pings.clear();
    for (const ping of pings) {
      clearTimeout(ping.timer);
      ping.reject(new GatewayRequestError(code, message, ClientAction.Ping));
    }
  }

  private sendPing(resolve: (rtt: number) => void, reject: (error: GatewayRequestError) => void, timeoutMs = this.options.requestTimeoutMs): number {
    const id = this.nextPingId++;
    const timer = setTimeout(() => {
      this.pings.delete(id);
      reject(new GatewayRequestError('timeout', `No pong within ${timeoutMs} ms`, ClientAction.Ping));
      this.dropConnection('no pong in time');
    }, timeoutMs);
    this.pings.set(id, { sentAt: Date.now(), resolve, reject, timer });
    this.send({ action: ClientAction.Ping, sdk_ping: id, timestamp: Date.now() });
    return id;
  }

  private send(frame: object): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(frame));
  }

  // --- the connection's life ----------------------------------------------------------------

  private async open(): Promise<void> {
    if (!this.running) return; // a state listener may have called disconnect()
    const generation = ++this.generation;
    this.retryTimer = null;
    this.setState('connecting', {});
    let target: { url: string; protocols?: string[] };
    try {
      target = await this.connectTarget();
    } catch (err) {
      if (generation === this.generation && this.running) this.afterFailure(`getToken() failed: ${(err as Error).message}`);
      return;
    }
    if (generation !== this.generation || !this.running) return;
    const Implementation = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketImplementation }).WebSocket;
    if (!Implementation) {
      this.stop('No WebSocket implementation: pass one as the WebSocket option (e.g. the ws package in Node)');
      return;
    }
    let socket: SocketLike;
    try {
      socket = new Implementation(target.url, target.protocols) as SocketLike;
    } catch (err) {
      this.stop(`Cannot open ${this.options.url}: ${(err as Error).message}`);
      return;
    }
    this.socket = socket;
    this.lastRefusal = null;
    this.handshakeTimer = setTimeout(() => this.dropConnection('no handshake in time'), this.options.handshakeTimeoutMs);
    socket.onmessage = (event) => {
      if (generation === this.generation) this.onFrame(typeof event.data === 'string' ? event.data : String(event.data));
    };
    socket.onerror = (event) => {
      // `ws` names a refused upgrade's status ("Unexpected server response: 401"); browsers cannot.
      const status = /Unexpected server response: (\d{3})/.exec(event?.message ?? '')?.[1];
      if (generation === this.generation && status) this.lastRefusal = Number(status);
    };
    socket.onclose = (event) => {
      if (generation === this.generation) this.onClose(event.code, event.reason);
    };
  }

  private async connectTarget(): Promise<{ url: string; protocols?: string[] }> {
    const url = new URL(this.options.url);
    if (this.options.getToken) {
      const token = await this.options.getToken();
      this.addPositions(url);
      return { url: url.toString(), protocols: [GATEWAY_SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${token}`] };
    }
    if (this.options.userId !== undefined) url.searchParams.set('user_id', this.options.userId);
    this.addPositions(url);
    return { url: url.toString() };
  }

  /** The last positions on the upgrade URL, so the catch-up comes before any live frame. */
  private addPositions(url: URL): void {
    if (!this.options.resume) return;
    if (this.userPosition) {
      url.searchParams.set('epoch', this.userPosition.epoch);
      url.searchParams.set('offset', String(this.userPosition.offset));
    }
    if (this.broadcastPosition) {
      url.searchParams.set('broadcast_epoch', this.broadcastPosition.epoch);
      url.searchParams.set('broadcast_offset', String(this.broadcastPosition.offset));
    }
  }

  private onClose(code: number, reason: string): void {
    const wasConnected = this.ready;
    const livedMs = Date.now() - this.connectedAt;
    this.releaseSocket();
    this.failAllRequests('disconnected', `The connection closed (${code})`);
    if (!this.running) return;
    const final = FINAL_CLOSES.get(code);
    if (final) return this.stop(`The server ${final}`, code);
    // What a browser gets instead of a 401 it cannot see.
    if (code === CloseCode.Unauthorized) this.lastRefusal = 401;
    if (code === CloseCode.TokenExpired && this.options.getToken && wasConnected && livedMs >= MIN_TOKEN_LIFETIME_MS) {
      return this.reconnectAtOnce('The token expired: reconnecting with a fresh one', code);
    }
    if (this.lastRefusal !== null && FINAL_REFUSALS.has(this.lastRefusal)) {
      // A refused token may have expired on the way: one immediate retry with a fresh one.
      if (this.lastRefusal === 401 && this.options.getToken && !this.retriedRefusal) {
        this.retriedRefusal = true;
        return this.reconnectAtOnce('The token was refused: retrying once with a fresh one', code);
      }
      return this.stop(`Not reconnecting: ${FINAL_REFUSALS.get(this.lastRefusal)}`, code);
    }
    this.afterFailure(reason || describeClose(code, this.lastRefusal, wasConnected), code, code === CloseCode.TryAgainLater ? retryAfterOf(reason) : undefined);
  }

  private reconnectAtOnce(reason: string, closeCode: number): void {
    this.setState('disconnected', { reason, closeCode });
    void this.open();
  }

  /** `retryAfterMs`: the wait a 1013 asked for; the client spreads its retry around it, never sooner than its own back-off. */
  private afterFailure(reason: string, closeCode?: number, retryAfterMs?: number): void {
    if (this.options.reconnect?.enabled === false) return this.stop(reason, closeCode);
    const backoff = backoffDelay(this.attempt, this.options.reconnect);
    const delay = retryAfterMs === undefined ? backoff : Math.max(backoff, Math.floor(retryAfterMs * (0.5 + Math.random())));
    this.attempt += 1;
    // The timer first: a state listener may call disconnect() or retryNow(), which clear it.
    this.retryTimer = setTimeout(() => void this.open(), delay);
    this.setState('disconnected', { reason, closeCode, attempt: this.attempt, retryInMs: delay });
  }

  /** Closes a socket that stopped answering; its close event starts the reconnect. */
  private dropConnection(reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    if (socket.readyState === OPEN_STATE_CONNECTING || socket.readyState === OPEN) {
      socket.close(SOCKET_CLOSE_NO_REPLY, reason);
    }
    // Some implementations wait for the peer's close frame: do not wait for a dead peer.
    const generation = this.generation;
    setTimeout(() => {
      if (generation === this.generation && this.socket === socket && socket.readyState !== READY_STATE_CLOSED) this.onClose(SOCKET_CLOSE_NO_REPLY, reason);
    }, 1000);
  }

  private stop(reason: string, closeCode?: number): void {
    const socket = this.socket;
    this.running = false;
    this.generation += 1;
    this.stopReason = reason;
    removeGlobalListener('online', this.onOnline);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.releaseSocket();
    this.failAllRequests('closed', reason);
    if (socket && (socket.readyState === OPEN_STATE_CONNECTING || socket.readyState === OPEN)) socket.close(SOCKET_CLOSE_NORMAL, 'client stopped');
    this.setState('disconnected', { reason, closeCode, stopped: true });
  }

  private releaseSocket(): void {
    if (this.socket) {
      this.socket.onmessage = null;
      this.socket.onclose = null;
      this.socket.onerror = null;
    }
    this.socket = null;
    this.ready = false;
    this.clearHandshakeTimer();
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  private setState(state: ConnectionState, detail: Omit<StateChange, 'state' | 'previous'>): void {
    const previous = this.currentState;
    if (previous === state && !detail.reason && !detail.stopped) return;
    this.currentState = state;
    this.emit('state', { state, previous, ...detail });
  }
}

function describeClose(code: number, refusal: number | null, wasConnected: boolean): string {
  if (refusal !== null) return `The server refused the connection (${refusal})`;
  if (!wasConnected && code === 1006) return 'Could not reach the server';
  if (code === CloseCode.GoingAway) return 'The server is restarting';
  if (code === CloseCode.TryAgainLater) return 'The server is busy';
  if (code === CloseCode.TokenExpired) return 'The token expired';
  if (code === 1006) return 'The connection was lost';
  return `The connection closed (${code})`;
}

type GlobalEvents = { addEventListener?(type: string, listener: () => void): void; removeEventListener?(type: string, listener: () => void): void };

function addGlobalListener(type: string, listener: () => void): void {
  (globalThis as GlobalEvents).addEventListener?.(type, listener);
}

function removeGlobalListener(type: string, listener: () => void): void {
  (globalThis as GlobalEvents).removeEventListener?.(type, listener);
}

/** The `retry after <ms> ms` a 1013's reason may end with (PROTOCOL.md 1.3), at most a minute. */
function retryAfterOf(reason: string): number | undefined {
  const match = /retry after (\d{1,6}) ms$/.exec(reason);
  return match ? Math.min(60_000, Number(match[1])) : undefined;
}
