import { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SetIndex } from '../common/set-index.js';
import { AckedMessage, AckOutcome, AckStore, decideAck } from './ack.store.js';

const SWEEP_INTERVAL_MS = 10_000;

/**
 * Acknowledged messages in this process. A message past its retention is gone when asked
 * for, as its key is in Redis; a sweep every 10 s frees the ones nobody asks about.
 */
export class MemoryAckStore extends AckStore implements OnModuleInit, OnModuleDestroy {
  private readonly messages = new Map<string, { message: AckedMessage; forgetAt: number }>();
  private readonly byOwner = new SetIndex<string>();
  private sweepTimer?: NodeJS.Timeout;

  onModuleInit(): void {
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
  }

  async create(message: AckedMessage, retentionMs: number): Promise<void> {
    this.messages.set(message.messageId, { message: { ...message }, forgetAt: message.expiresAt + retentionMs });
    this.byOwner.add(ownerKey(message), message.messageId);
  }

  async get(messageId: string): Promise<AckedMessage | undefined> {
    const message = this.kept(messageId, Date.now())?.message;
    return message && { ...message };
  }

  async ack(messageId: string, userId: string, connectionId: string, now: number, retentionMs: number, mayAck: (message: AckedMessage) => Promise<boolean>): Promise<AckOutcome> {
    const kept = this.kept(messageId, now);
    if (!kept) return { kind: 'not_found' };
    const verdict = decideAck(kept.message, userId, now);
    if (verdict === 'forbidden' || (kept.message.taskId !== null && verdict === 'acked' && !(await mayAck({ ...kept.message })))) return { kind: 'forbidden' };
    if (verdict !== 'acked') return { kind: verdict, message: { ...kept.message } };
    if (kept.message.ackedAt !== null) return { kind: 'already', message: { ...kept.message } }; // acknowledged while mayAck ran
    // A new record: messages handed out before stay as they were.
    kept.message = { ...kept.message, ackedAt: now, ackedBy: userId, ackedConnection: connectionId };
    kept.forgetAt = now + retentionMs;
    this.byOwner.delete(ownerKey(kept.message), messageId);
    return { kind: 'acked', message: { ...kept.message } };
  }

  async unacked(owner: { userId: string } | { taskId: string }, now: number): Promise<AckedMessage[]> {
    const key = 'userId' in owner ? `u:${owner.userId}` : `t:${owner.taskId}`;
    const found: AckedMessage[] = [];
    for (const id of this.byOwner.get(key)) {
      const message = this.messages.get(id)?.message;
      if (message && message.ackedAt === null && message.expiresAt > now) found.push({ ...message });
    }
    return found.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** One process: every ack is taken here, and AckService hears of it directly. */
  onAckedElsewhere(): void {}

  /** The message's entry, unless its retention has passed (then it is forgotten now). */
  private kept(messageId: string, now: number): { message: AckedMessage; forgetAt: number } | undefined {
    const kept = this.messages.get(messageId);
    if (kept && kept.forgetAt <= now) {
      this.forget(messageId, kept.message);
      return undefined;
    }
    return kept;
  }

  private sweep(now: number): void {
    for (const [id, { message, forgetAt }] of this.messages) {
      if (message.ackedAt === null && message.expiresAt <= now) this.byOwner.delete(ownerKey(message), id);
      if (forgetAt <= now) this.messages.delete(id);
    }
  }

  private forget(messageId: string, message: AckedMessage): void {
    this.messages.delete(messageId);
    this.byOwner.delete(ownerKey(message), messageId);
  }
}

function ownerKey(message: AckedMessage): string {
  return message.userId !== null ? `u:${message.userId}` : `t:${message.taskId}`;
}
