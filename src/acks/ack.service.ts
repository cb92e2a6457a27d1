import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUuid } from '../common/random-uuid.js';
import type { Environment } from '../config/environment.js';
import type { ClientConnection } from '../connections/client-connection.js';
import { ConnectionService } from '../connections/connection.service.js';
import { PreparedFrame } from '../connections/prepared-frame.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { StateBackend } from '../engine/state-backend.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { keepJson } from '../protocol/frame-json.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { AckedMessage, AckStore } from './ack.store.js';

/** What the REST API reports about a message sent with `requires_ack`. */
export interface AckView {
  message_id: string;
  user_id: string | null;
  task_id: string | null;
  state: 'pending' | 'acknowledged' | 'expired';
  acknowledged: boolean;
  acked_by: string | null;
  acked_at: number | null;
  created_at: number;
  expires_at: number;
}

export function toAckView(message: AckedMessage, now = Date.now()): AckView {
  const state = message.ackedAt !== null ? 'acknowledged' : now >= message.expiresAt ? 'expired' : 'pending';
  return {
    message_id: message.messageId,
    user_id: message.userId,
    task_id: message.taskId,
    state,
    acknowledged: message.ackedAt !== null,
    acked_by: message.ackedBy,
    acked_at: message.ackedAt === null ? null : epochSeconds(message.ackedAt),
    created_at: epochSeconds(message.createdAt),
    expires_at: epochSeconds(message.expiresAt),
  };
}

/** Cluster mode: how often waiting callers re-read their messages, in case a wake-up was lost. */
const WAIT_RECHECK_MS = 5000;

/**
 * The design document's send_with_ack: a message gets a `message_id` and `requires_ack`,
 * is kept until a recipient answers `{"action":"ack"}` (or it expires), is sent again on
 * each new connection of its user (or subscription to its task), and a caller may wait
 * for the ack. The record is written before the frame goes out, so an ack cannot beat it.
 */
@Injectable()
export class AckService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AckService.name);
  private recheckTimer?: NodeJS.Timeout;
  private readonly waiters = new Map<string, Set<(message: AckedMessage) => void>>();
  private readonly retentionMs: number;
  readonly defaultTimeoutSeconds: number;

  constructor(
    config: ConfigService<Environment, true>,
    private readonly store: AckStore,
    private readonly delivery: DeliveryService,
    private readonly connections: ConnectionService,
    private readonly metrics: MetricsService,
    private readonly backend: StateBackend,
  ) {
    this.retentionMs = config.get('CONFIRMATION_RETENTION_SECONDS', { infer: true }) * 1000;
    this.defaultTimeoutSeconds = config.get('ACK_DEFAULT_TIMEOUT_SECONDS', { infer: true });
  }

  /** Only another instance can take an ack this one does not hear of at once. */
  onModuleInit(): void {
    this.store.onAckedElsewhere((message) => this.wake(message));
    this.delivery.onReconnect(() => void this.recheckWaiters());
    if (!this.backend.hasPeers) return;
    this.recheckTimer = setInterval(() => void this.recheckWaiters(), WAIT_RECHECK_MS);
    this.recheckTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.recheckTimer);
  }

  /** Sends the frame to the user's connections (or the task's subscribers) and keeps it until acknowledged. */
  async send(
    to: { userId: string } | { taskId: string },
    frame: Record<string, unknown>,
    timeoutSeconds: number,
    acceptedAt?: number,
  ): Promise<{ message: AckedMessage; delivered: number }> {
    const now = Date.now();
    const messageId = randomUuid();
    const sent = { ...frame, message_id: messageId, requires_ack: true };
    const json = keepJson(sent);
    const message: AckedMessage = {
      messageId,
      userId: 'userId' in to ? to.userId : null,
      taskId: 'taskId' in to ? to.taskId : null,
      frame: json,
      createdAt: now,
      expiresAt: now + timeoutSeconds * 1000,
      ackedAt: null,
      ackedBy: null,
      ackedConnection: null,
    };
    await this.store.create(message, this.retentionMs);
    const audience = 'userId' in to ? { userIds: [to.userId], acceptedAt } : { taskIds: [to.taskId], acceptedAt };
    const delivered = await this.delivery.deliver(audience, sent);
    return { message, delivered };
  }

  /** A recipient's ack. Acknowledging twice is fine; someone else's message or an unknown id is not. */
  async ack(messageId: string, userId: string, connectionId: string, mayFollowTask: (taskId: string) => Promise<boolean>): Promise<AckedMessage> {
    const outcome = await this.store.ack(messageId, userId, connectionId, Date.now(), this.retentionMs, (message) => mayFollowTask(message.taskId ?? ''));
    switch (outcome.kind) {
      case 'not_found':
        throw new GatewayError(ErrorCode.MessageNotFound, `No message ${messageId} waits for an acknowledgement`);
      case 'forbidden':
        throw new GatewayError(ErrorCode.Forbidden, `Message ${messageId} is not for this user`);
      case 'expired':
        throw new GatewayError(ErrorCode.MessageExpired, `Message ${messageId} expired before it was acknowledged`);
      case 'acked':
        this.metrics.observeAck(((outcome.message.ackedAt ?? outcome.message.createdAt) - outcome.message.createdAt) / 1000);
        this.wake(outcome.message);
        return outcome.message;
      case 'already':
        return outcome.message;
    }
  }

  get(messageId: string): Promise<AckedMessage | undefined> {
    return this.store.get(messageId);
  }

  /**
   * Resolves once the message is acknowledged, or with its record as it stands after
   * `waitMs`. Acks on this instance wake the waiter at once; in cluster mode an ack taken
   * by another instance wakes it through Redis pub/sub, and the record is read once the
   * waiter is registered (an ack may have come before) and every WAIT_RECHECK_MS after.
   */
  async waitForAck(message: AckedMessage, waitMs: number, stopEarly?: (stop: () => void) => void): Promise<AckedMessage> {
    if (waitMs <= 0 || message.ackedAt !== null) return message;
    const id = message.messageId;
    return new Promise<AckedMessage>((resolve) => {
      let done = false;
      const waiters = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, waiters);
      const finish = (settled?: AckedMessage) => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        waiters.delete(onAck);
        if (waiters.size === 0) this.waiters.delete(id);
        if (settled) resolve(settled);
        else this.store.get(id).then((latest) => resolve(latest ?? message), () => resolve(message));
      };
      const onAck = (acked: AckedMessage) => finish(acked);
      waiters.add(onAck);
      const deadline = setTimeout(() => finish(), Math.min(waitMs, message.expiresAt - Date.now()));
      if (this.backend.hasPeers) this.store.get(id).then((latest) => latest?.ackedAt != null && finish(latest), () => undefined);
      stopEarly?.(() => finish());
    });
  }

  /** Sends the user's unacknowledged messages again (after a new connection or a resume). */
  async resendToUser(connection: ClientConnection): Promise<void> {
    if (connection.userId === null) return;
    await this.resend(connection, { userId: connection.userId });
  }

  /** Sends the task's unacknowledged messages to a new subscriber. */
  async resendForTask(connection: ClientConnection, taskId: string): Promise<void> {
    await this.resend(connection, { taskId });
  }

  private async resend(connection: ClientConnection, owner: { userId: string } | { taskId: string }): Promise<void> {
    try {
      for (const message of await this.store.unacked(owner, Date.now())) {
        if (connection.socket.readyState === connection.socket.OPEN) this.connections.send(connection, new PreparedFrame(message.frame));
      }
    } catch (err) {
      this.logger.warn(`Unacknowledged messages for ${connection.id} not re-sent now: ${(err as Error).message}`);
    }
  }

  /** Every waited-for message re-read at once (concurrent reads: one pipelined batch). */
  private async recheckWaiters(): Promise<void> {
    const ids = [...this.waiters.keys()];
    if (ids.length === 0) return;
    try {
      for (const latest of await Promise.all(ids.map((id) => this.store.get(id)))) {
        if (latest?.ackedAt != null) this.wake(latest);
      }
    } catch {
      // Redis away: the next recheck (or the reconnect) tries again.
    }
  }

  private wake(message: AckedMessage): void {
    for (const waiter of [...(this.waiters.get(message.messageId) ?? [])]) waiter(message);
  }
}
