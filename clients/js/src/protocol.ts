// GENERATED from src/protocol/ by clients/js/scripts/generate-protocol.mjs. Do not edit:
// change src/protocol/ and run `npm run protocol` in clients/js (a test fails until you do).

// --- from src/protocol/error-code.enum.ts ---

/** Stable, machine-readable codes carried by `error` frames and REST error bodies. */
export enum ErrorCode {
    InvalidJson = "invalid_json",
    InvalidMessage = "invalid_message",
    UnknownAction = "unknown_action",
    CallbackNotFound = "callback_not_found",
    AlreadyResolved = "already_resolved",
    CallbackConflict = "callback_conflict",
    Forbidden = "forbidden",
    IdentityRequired = "identity_required",
    NotFound = "not_found",
    TaskCancelled = "task_cancelled",
    RateLimited = "rate_limited",
    TooManyPending = "too_many_pending",
    CapacityExceeded = "capacity_exceeded",
    Unauthorized = "unauthorized",
    Unavailable = "unavailable",
    UnsupportedMediaType = "unsupported_media_type",
    PayloadTooLarge = "payload_too_large",
    InternalError = "internal_error",
    MessageNotFound = "message_not_found",
    MessageExpired = "message_expired",
    ResumeInProgress = "resume_in_progress",
    /** A request field is wrong in a way the DTO cannot say (e.g. a `form` outside the supported subset). */
    ValidationFailed = "validation_failed",
    /** An answer's `option` or `data` does not fit the prompt; the error's `field` names what. */
    InvalidAnswer = "invalid_answer",
    NotAnApprover = "not_an_approver",
    SelfApprovalForbidden = "self_approval_forbidden",
    AlreadyVoted = "already_voted"
}

// --- from src/protocol/close-code.enum.ts ---

/** WebSocket close codes the server uses. */
export enum CloseCode {
    /** Server shutting down. */
    GoingAway = 1001,
    /** A text frame that is not valid UTF-8 (closed by the ws library). */
    InvalidPayload = 1007,
    /** Sustained flooding beyond the rate limit. */
    PolicyViolation = 1008,
    /** Frame larger than WEBSOCKET_MAX_MESSAGE_BYTES. */
    MessageTooBig = 1009,
    /** Server at WEBSOCKET_MAX_CONNECTIONS or WEBSOCKET_MAX_CONCURRENT_HANDSHAKES, or the client stopped reading (slow consumer): reconnect after a back-off. */
    TryAgainLater = 1013,
    /** The token's `exp` passed: reconnect with a fresh token. */
    TokenExpired = 4001,
    /**
     * A browser's credentials were refused (missing or invalid token): do not come back with
     * the same ones. Browsers cannot read an HTTP 401 on an upgrade, so they get this close
     * right after the handshake instead; other clients get the 401.
     */
    Unauthorized = 4003,
    /** The user opened more than WEBSOCKET_MAX_CONNECTIONS_PER_USER; this, their oldest, was closed. */
    ReplacedByNewerConnection = 4008
}

// --- from src/protocol/id.ts ---

/** Ids are 1 to MAX_ID_LENGTH characters long, none of them a control character (ID_CHARACTERS_PATTERN). */
export const MAX_ID_LENGTH = 256;

/** Any number of characters but the control characters, as JSON Schema's `pattern` has it (also used without the `u` flag). */
export const ID_CHARACTERS_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$";

/** The name of the server's validation rule for the characters (its JSON Schema is ID_CHARACTERS_PATTERN). */
export const HAS_NO_CONTROL_CHARACTERS = "hasNoControlCharacters";

// --- from src/protocol/client-frames.ts ---

/** The `action` values a client may send. */
export enum ClientAction {
    Confirm = "confirm",
    Cancel = "cancel",
    Ping = "ping",
    Subscribe = "subscribe",
    Unsubscribe = "unsubscribe",
    Resume = "resume",
    Ack = "ack"
}

export const MAX_FEEDBACK_LENGTH = 4096;

export const MAX_EPOCH_LENGTH = 64;

/** An option id of a prompt with options (POST /notify `options[].id`). */
export const MAX_OPTION_ID_LENGTH = 64;

export const OPTION_ID_PATTERN_SOURCE = "^[A-Za-z0-9._:-]+$";

export interface ConfirmFrame {
    callback_id: string;
    /** Missing means "do not proceed", as in the original. */
    proceed?: boolean;
    feedback?: string;
    /** One of the prompt's option ids; its `proceed` is the answer's (a contradicting `proceed` is refused). */
    option?: string;
    /** The filled form, when the prompt has one and the answer proceeds (checked against the form). */
    data?: Record<string, unknown>;
}

export interface CancelFrame {
    task_id: string;
    /** Defaults to the connection's user; any other user is refused. */
    user_id?: string;
}

export interface SubscribeFrame {
    user_id?: string;
    task_id?: string;
    /** With `task_offset`: the task stream position to resume from (the missed task frames come first). */
    task_epoch?: string;
    task_offset?: number;
}

/**
 * Catch up after a reconnect: the frames after these positions, then a `resumed` frame per
 * stream. `epoch`/`offset` are the user's stream, `broadcast_*` the broadcast stream's.
 * Best sent on the upgrade URL instead (`?epoch=&offset=`), where nothing can come first.
 */
export interface ResumeFrame {
    epoch?: string;
    offset?: number;
    broadcast_epoch?: string;
    broadcast_offset?: number;
}

/** Acknowledges a message that came with `requires_ack: true`. */
export interface AckFrame {
    message_id: string;
}

export interface UnsubscribeFrame {
    task_id: string;
}

// --- from src/protocol/server-frames.ts ---

export type ConfirmationState = 'pending' | 'confirmed' | 'rejected' | 'timed_out' | 'cancelled';

/** What a task service sends about one step (the original's TaskStepResult). */
export interface StepResult {
    step: string;
    result?: unknown;
    completed?: boolean;
    message: string;
    status: string;
    error_code?: string | null;
    error_message?: string | null;
}

/**
 * Where a frame sits in its stream (absent when history is off). A frame carries one of
 * them: `offset` on the user's own stream, `task_offset` on a followed task's stream (the
 * frame's `task_id` names it), `broadcast_offset` on the broadcast stream.
 */
export interface StreamOffsets {
    offset?: number;
    task_offset?: number;
    broadcast_offset?: number;
}

export interface ConnectedFrame {
    type: 'connected';
    connection_id: string;
    user_id: string | null;
    server_time: number;
    /** The user's stream: its epoch and the offset of its last frame (when history is on and the user known). */
    epoch?: string;
    offset?: number;
    /** The broadcast stream's epoch and last offset (when history is on). */
    broadcast_epoch?: string;
    broadcast_offset?: number;
}

/** The reply to an `ack` (also to a repeated one). */
export interface AckAcceptedFrame {
    type: 'ack_accepted';
    message_id: string;
    acked_at: number;
}

/** On a caller's message sent with `requires_ack: true`: answer `{"action":"ack","message_id":…}`. */
export interface AckRequestFields {
    message_id?: string;
    requires_ack?: boolean;
}

export type ResumedStream = 'user' | 'broadcast' | 'task';

/**
 * Ends a catch-up on one stream: the missed frames came before it. `recovered: false`
 * (another epoch, or a gap beyond the kept history) means refetch the state.
 */
export interface ResumedFrame {
    type: 'resumed';
    stream: ResumedStream;
    /** For `stream: 'task'`. */
    task_id?: string;
    recovered: boolean;
    /** The stream's epoch and last offset now: the position to resume from next time. */
    epoch: string;
    offset: number;
    /** Frames sent by this catch-up. */
    missed: number;
    timestamp: number;
}

/** One choice of a prompt with `options` (POST /notify): its `proceed` is the answer's. */
export interface ApprovalOption {
    id: string;
    label: string;
    description?: string;
    proceed: boolean;
}

/**
 * How several approvers decide: `any` (the first answer settles), `all` (every listed user
 * approves; one rejection rejects) or `quorum` (`quorum` approvals confirm).
 */
export type ApprovalPolicy = 'any' | 'all' | 'quorum';

/** Who may answer a prompt besides (or instead of) its user: listed users and members of listed groups. */
export interface Approvers {
    users?: string[];
    groups?: string[];
}

/**
 * A flat form (MCP elicitation's requestedSchema): an object schema of primitive fields
 * (string, number, integer, boolean, single- and multi-select enums). Its `default`s are the
 * proposed values. See docs/PROTOCOL.md, "Approvals".
 */
export interface FormSchema {
    type: 'object';
    title?: string;
    description?: string;
    properties: Record<string, Record<string, unknown>>;
    required?: string[];
}

/** One approver's vote so far. */
export interface VoteView {
    user_id: string;
    proceed: boolean;
    option: string | null;
    at: number;
}

export interface TaskStepResultFrame extends StreamOffsets {
    type: 'task_step_result';
    callback_id: string;
    step: number;
    step_name: string;
    message: string;
    result: unknown;
    status: string;
    completed: boolean;
    error_code: string | null;
    error_message: string | null;
    user_id: string;
    task_id: string;
    timestamp: number;
    expires_at: number;
    /** The choices to offer, when the task service gave some (answer with `option`). */
    options?: ApprovalOption[];
    /** The form to fill, when the task service gave one (answer with `data`); its defaults are proposed values. */
    form?: FormSchema;
    /** Who may answer, when not only `user_id`. */
    approvers?: Approvers;
    policy?: ApprovalPolicy;
    quorum?: number;
    /** The votes so far (several approvers). */
    votes?: VoteView[];
    /** n >= 1 on a reminder's re-notification of the same prompt. */
    reminder?: number;
}

export interface ConfirmationAcceptedFrame {
    type: 'confirmation_accepted';
    callback_id: string;
    proceed: boolean;
    feedback: string | null;
    timestamp: number;
    /**
     * Only for a prompt with approvals: the confirmation's state after this answer. `pending`
     * means the vote was counted and others are still needed (a confirmation_resolved follows
     * when it settles); any other state means this answer settled it (this connection gets no
     * confirmation_resolved for it).
     */
    state?: ConfirmationState;
}

export interface ConfirmationResolvedFrame extends StreamOffsets {
    type: 'confirmation_resolved';
    callback_id: string;
    task_id: string;
    state: ConfirmationState;
    proceed: boolean;
    timestamp: number;
    /** The option chosen, when the prompt had options (null when it settled without one). */
    option?: string | null;
    /** The user whose answer or vote settled it (null for a timeout or a cancellation). */
    decided_by?: string | null;
}

/** A vote that did not settle the confirmation, to every approver's connections. */
export interface ConfirmationVoteFrame {
    type: 'confirmation_vote';
    callback_id: string;
    task_id: string;
    votes: VoteView[];
    policy: ApprovalPolicy;
    quorum?: number;
    /** Approvals still needed to confirm. */
    needed: number;
    timestamp: number;
}

export interface TaskCancelledFrame extends StreamOffsets {
    type: 'task_cancelled';
    user_id: string;
    task_id: string;
    timestamp: number;
}

export interface PongFrame {
    type: 'pong';
    timestamp: number;
    original_data: unknown;
    /** The connection's round trip in ms, from the server's last answered keepalive ping (null before one). */
    rtt_ms?: number | null;
}

export interface SubscriptionConfirmedFrame {
    type: 'subscription_confirmed';
    user_id: string | null;
    task_id?: string;
    subscribed_tasks: string[];
    /** The user's stream position, when the frame made the connection that user. */
    epoch?: string;
    offset?: number;
    /** The task's stream position, when it named a task. */
    task_epoch?: string;
    task_offset?: number;
}

export interface UnsubscribedFrame {
    type: 'unsubscribed';
    task_id: string;
    subscribed_tasks: string[];
}

export interface HeartbeatFrame extends StreamOffsets {
    type: 'heartbeat';
    status: 'heartbeat';
    message: string;
    heartbeat_id: string;
    user_id: string;
    task_id: string;
    timestamp: number;
}

/** The server is going away: reconnect (to another instance) after the close. */
export interface ServerShutdownFrame {
    type: 'server_shutdown';
    timestamp: number;
}

export interface ErrorFrame {
    type: 'error';
    code: ErrorCode;
    message: string;
    action?: string;
    /** With `invalid_answer`: the form field (or `option`, `data`, `proceed`) that is wrong. */
    field?: string;
    timestamp: number;
}

/** Every frame type the server sends, keyed by its `type`. */
export interface ServerFrames {
    connected: ConnectedFrame;
    task_step_result: TaskStepResultFrame;
    confirmation_accepted: ConfirmationAcceptedFrame;
    confirmation_resolved: ConfirmationResolvedFrame;
    confirmation_vote: ConfirmationVoteFrame;
    task_cancelled: TaskCancelledFrame;
    pong: PongFrame;
    subscription_confirmed: SubscriptionConfirmedFrame;
    unsubscribed: UnsubscribedFrame;
    heartbeat: HeartbeatFrame;
    server_shutdown: ServerShutdownFrame;
    resumed: ResumedFrame;
    ack_accepted: AckAcceptedFrame;
    error: ErrorFrame;
}

export type ServerFrame = ServerFrames[keyof ServerFrames];

/** Caller-defined messages (broadcast, send_to_user, task messages) are any JSON object. */
export type CustomFrame = Record<string, unknown>;

/** A task's progress, pushed by its task service (POST /tasks/:id/messages or /users/:id/messages). */
export interface TaskProgressFrame extends StreamOffsets, AckRequestFields {
    type: 'task_progress';
    task_id: string;
    /** Percent done, 0 to 100. */
    progress: number;
    message?: string;
    timestamp?: number;
}

export type NoticeSeverity = 'info' | 'success' | 'warning' | 'error';

/** A notice for everyone (POST /broadcast). */
export interface SystemNotificationFrame extends StreamOffsets, AckRequestFields {
    type: 'system_notification';
    message: string;
    severity?: NoticeSeverity;
    timestamp?: number;
}

/** A notice for one user (POST /users/:id/messages sets `target_user_id`). */
export interface PersonalNotificationFrame extends StreamOffsets, AckRequestFields {
    type: 'personal_notification';
    message: string;
    severity?: NoticeSeverity;
    target_user_id?: string;
    task_id?: string;
    timestamp?: number;
}

/**
 * Caller-defined frames with a conventional shape (the original design's examples). The
 * gateway passes them on unchecked like any caller-defined frame; clients that know these
 * types (the JS SDK, the inbox page) show them.
 */
export interface ConventionalFrames {
    task_progress: TaskProgressFrame;
    system_notification: SystemNotificationFrame;
    personal_notification: PersonalNotificationFrame;
}

// --- from src/protocol/subprotocol.ts ---

/**
 * The WebSocket subprotocol the gateway selects when a client offers it. Browsers cannot
 * set headers on a WebSocket, so a token rides beside it as `bearer.<jwt>`; that one is
 * read, never selected, so the token is never echoed or listed.
 */
export const GATEWAY_SUBPROTOCOL = "gateway.v1";

/** The prefix of the subprotocol that carries a token in `AUTH_MODE=jwt`. */
export const TOKEN_SUBPROTOCOL_PREFIX = "bearer.";
