import { LuaScripts } from '../redis/lua-scripts.js';
import type { RedisService } from '../redis/redis.service.js';
import { AckedMessage, AckOutcome, AckStore, decideAck } from './ack.store.js';

/**
 * Acknowledged messages in Redis: one key per message (its own slot), kept until it expires
 * plus the retention, and a sorted set per user (or task) of the unacknowledged ones by
 * expiry, in that user's (task's) slot. The ack is a compare-and-set on the message key,
 * so two instances cannot both record one.
 */
export class RedisAckStore extends AckStore {
  private readonly scripts: LuaScripts;
  /** Where the ack script publishes each new ack, for the callers waiting on any instance. */
  private readonly ackedChannel: string;

  constructor(private readonly redis: RedisService) {
    super();
    this.scripts = LuaScripts.of(redis.commands);
    this.ackedChannel = redis.channel('acked');
  }

  /** One channel for the deployment: a wake-up is one small message per ack and instance. */
  onAckedElsewhere(listener: (message: AckedMessage) => void): void {
    this.redis.subscriber.on('message', (channel: string, record: string) => {
      if (channel === this.ackedChannel) listener(JSON.parse(record) as AckedMessage);
    });
    // Resubscribed by ioredis after an outage; the subscriber queues this until it is ready.
    void this.redis.subscriber.subscribe(this.ackedChannel).catch(() => undefined);
  }

  async create(message: AckedMessage, retentionMs: number): Promise<void> {
    const index = this.indexOf(message);
    await this.redis.run(() =>
      Promise.all([
        this.redis.commands.set(this.keyOf(message.messageId), JSON.stringify(message), 'PX', Math.max(1, message.expiresAt + retentionMs - Date.now())),
        this.redis.commands.zadd(index, message.expiresAt, message.messageId),
        this.redis.commands.pexpireat(index, message.expiresAt, 'GT'),
        this.redis.commands.pexpireat(index, message.expiresAt, 'NX'),
      ]),
    );
  }

  async get(messageId: string): Promise<AckedMessage | undefined> {
    const raw = await this.redis.run(() => this.redis.commands.get(this.keyOf(messageId)));
    return raw === null ? undefined : (JSON.parse(raw) as AckedMessage);
  }

  async ack(messageId: string, userId: string, connectionId: string, now: number, retentionMs: number, mayAck: (message: AckedMessage) => Promise<boolean>): Promise<AckOutcome> {
    const message = await this.get(messageId);
    if (!message) return { kind: 'not_found' };
    const verdict = decideAck(message, userId, now);
    if (verdict === 'forbidden' || (message.taskId !== null && verdict === 'acked' && !(await mayAck(message)))) return { kind: 'forbidden' };
    if (verdict !== 'acked') return { kind: verdict, message };
    const [outcome, raw] = await this.redis.run(() => this.scripts.run('ack', [this.keyOf(messageId)], [userId, connectionId, now, retentionMs, this.ackedChannel]));
    if (outcome === 'not_found') return { kind: 'not_found' };
    const settled = JSON.parse(raw) as AckedMessage;
    if (outcome === 'acked') await this.redis.run(() => this.redis.commands.zrem(this.indexOf(settled), messageId));
    return { kind: outcome as 'acked' | 'already' | 'expired', message: settled };
  }

  async unacked(owner: { userId: string } | { taskId: string }, now: number): Promise<AckedMessage[]> {
    const index = 'userId' in owner ? this.redis.userKey(owner.userId, 'acks') : this.redis.taskKey(owner.taskId, 'acks');
    return this.redis.run(async () => {
      await this.redis.commands.zremrangebyscore(index, '-inf', now);
      const ids = await this.redis.commands.zrange(index, now, '+inf', 'BYSCORE');
      // One GET per message: the messages live in slots of their own.
      const raws = await Promise.all(ids.map((id) => this.redis.commands.get(this.keyOf(id))));
      const found: AckedMessage[] = [];
      for (const raw of raws) {
        const message = raw === null ? undefined : (JSON.parse(raw) as AckedMessage);
        if (message && message.ackedAt === null) found.push(message);
      }
      return found.sort((a, b) => a.createdAt - b.createdAt);
    });
  }

  private keyOf(messageId: string): string {
    return this.redis.idKey('msg', messageId);
  }

  private indexOf(message: AckedMessage): string {
    return message.userId !== null ? this.redis.userKey(message.userId, 'acks') : this.redis.taskKey(message.taskId ?? '', 'acks');
  }
}
