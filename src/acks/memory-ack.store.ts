import { SetIndex } from '../common/set-index.js';
import { AckedMessage, AckOutcome, AckStore, decideAck } from './ack.store.js';

/** Acknowledged messages in this process. */
export class MemoryAckStore extends AckStore {
  private readonly messages = new Map<string, { message: AckedMessage; forgetAt: number }>();
  private readonly byOwner = new SetIndex<string>();

  get size(): number {
    return this.messages.size;
  }

  async create(message: AckedMessage, retentionMs: number): Promise<void> {
    this.messages.set(message.messageId, { message, forgetAt: message.expiresAt + retentionMs });
    this.byOwner.add(ownerKey(message), message.messageId);
  }

  async get(messageId: string): Promise<AckedMessage | undefined> {
    return this.messages.get(messageId)?.message;
  }

  async ack(messageId: string, userId: string, connectionId: string, now: number, retentionMs: number, mayAck: (message: AckedMessage) => Promise<boolean>): Promise<AckOutcome> {
    const kept = this.messages.get(messageId);
    if (!kept) return { kind: 'not_found' };
    const { message } = kept;
    const verdict = decideAck(message, userId, now);
    if (verdict === 'forbidden' || (message.taskId !== null && verdict === 'acked' && !(await mayAck(message)))) return { kind: 'forbidden' };
    if (verdict !== 'acked') return { kind: verdict, message };
    if (message.ackedAt !== null) return { kind: 'already', message }; // acknowledged while mayAck ran
    message.ackedAt = now;
    message.ackedBy = userId;
    message.ackedConnection = connectionId;
    kept.forgetAt = now + retentionMs;
    this.byOwner.delete(ownerKey(message), messageId);
    return { kind: 'acked', message };
  }

  async unacked(owner: { userId: string } | { taskId: string }, now: number): Promise<AckedMessage[]> {
    const key = 'userId' in owner ? `u:${owner.userId}` : `t:${owner.taskId}`;
    const found: AckedMessage[] = [];
    for (const id of this.byOwner.get(key)) {
      const message = this.messages.get(id)?.message;
      if (message && message.ackedAt === null && message.expiresAt > now) found.push(message);
    }
    return found.sort((a, b) => a.createdAt - b.createdAt);
  }

  override sweep(now: number): void {
    for (const [id, { message, forgetAt }] of this.messages) {
      if (message.ackedAt === null && message.expiresAt <= now) this.byOwner.delete(ownerKey(message), id);
      if (forgetAt <= now) this.messages.delete(id);
    }
  }
}

function ownerKey(message: AckedMessage): string {
  return message.userId !== null ? `u:${message.userId}` : `t:${message.taskId}`;
}
