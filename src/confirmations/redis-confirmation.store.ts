import type { Redis } from 'ioredis';
import { RedisService } from '../redis/redis.service.js';
import type { TaskStepResultFrame } from '../protocol/server-frames.js';
import type { Confirmation } from './confirmation.js';
import {
  ConfirmationStore,
  CreateLimits,
  CreateOutcome,
  Settlement,
  SettleOutcome,
  TaskCancellation,
} from './confirmation.store.js';
import type { RetentionSettings } from './memory-confirmation.store.js';

/**
 * Create: one confirmation per callback_id, the per-user cap and "born cancelled" decided
 * in one step. KEYS: record, user's pending set, cancellation, involvement, waiters.
 */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[11] ~= '' and redis.call('HGET', KEYS[1], 'st') == 'pending' then
    redis.call('SADD', KEYS[5], ARGV[11])
    redis.call('PEXPIRE', KEYS[5], ARGV[12])
  end
  return {'existing', redis.call('HGETALL', KEYS[1])}
end
local cancelled = redis.call('EXISTS', KEYS[3]) == 1
if not cancelled and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[10]) then return {'user_cap'} end
local function store(...)
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'u', ARGV[2], 't', ARGV[3], 's', ARGV[4], 'ca', ARGV[5], 'ea', ARGV[6], 'sn', ARGV[7], 'm', ARGV[8], ...)
end
if cancelled then
  store('st', 'cancelled', 'p', '0', 'sa', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[13])
else
  store('st', 'pending', 'f', ARGV[9])
  redis.call('PEXPIRE', KEYS[1], ARGV[12])
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[12]) then redis.call('PEXPIRE', KEYS[2], ARGV[12]) end
  if ARGV[11] ~= '' then
    redis.call('SADD', KEYS[5], ARGV[11])
    redis.call('PEXPIRE', KEYS[5], ARGV[12])
  end
end
if redis.call('PTTL', KEYS[4]) < tonumber(ARGV[12]) then redis.call('SET', KEYS[4], '1', 'PX', ARGV[12]) end
return {'created', cancelled and 'cancelled' or 'pending'}
`;

/**
 * Settle: compare-and-set from pending; the first answer (or the timeout, or the
 * cancellation) wins. KEYS: record, user's pending set, waiters.
 */
const SETTLE = `
local state = redis.call('HGET', KEYS[1], 'st')
if not state then return {'not_found'} end
if state ~= 'pending' then return {'already', redis.call('HGETALL', KEYS[1])} end
-- The prompt ('f') is emptied, not deleted: one HSET, and a decision does not keep it.
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[1], 'st', ARGV[2], 'p', ARGV[3], 'sa', ARGV[5], 'f', '', 'fb', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'st', ARGV[2], 'p', ARGV[3], 'sa', ARGV[5], 'f', '')
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZREM', KEYS[2], ARGV[1])
local waiting = redis.call('SMEMBERS', KEYS[3])
redis.call('DEL', KEYS[3])
return {'settled', redis.call('HGETALL', KEYS[1]), waiting}
`;

/**
 * A user of the task, kept as long as the task's longest-lived confirmation: one call
 * instead of ZADD and two PEXPIREs. KEYS: the task's users. ARGV: created at, user, TTL ms.
 */
const INDEX_TASK_USER = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
`;

/** Watch: join the waiters only while pending. KEYS: record, waiters. */
const WATCH = `
local record = redis.call('HGETALL', KEYS[1])
if redis.call('HGET', KEYS[1], 'st') == 'pending' then
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return record
`;

interface ScriptedRedis extends Redis {
  cgwCreate(...args: Array<string | number>): Promise<[string, (string[] | string)?]>;
  cgwSettle(...args: Array<string | number>): Promise<[string, string[]?, string[]?]>;
  cgwWatch(...args: Array<string | number>): Promise<string[]>;
  cgwIndexTaskUser(...args: Array<string | number>): Promise<null>;
}

/**
 * Confirmations in Redis, shared by every instance (cluster mode).
 *
 * A confirmation lives in its user's hash slot (record, waiters, the user's pending set,
 * involvement and cancellation keys), so create and settle are single-slot scripts. Outside
 * it: the callback_id index (`{cb:<id>}` -> owner, for lookups by id and idempotency), the
 * task's users and cancellations (`{t:<task>}`), and one expiry schedule (`{global}`) that
 * every instance scans, so a confirmation times out even when the instance that made it died.
 * Every key expires: pending ones after their timeout plus retention, settled ones after
 * retention.
 */
export class RedisConfirmationStore extends ConfirmationStore {
  private readonly redis: ScriptedRedis;
  private readonly expiriesKey: string;

  constructor(
    private readonly shared: RedisService,
    private readonly settings: RetentionSettings,
  ) {
    super();
    this.redis = shared.commands as unknown as ScriptedRedis;
    this.redis.defineCommand('cgwCreate', { numberOfKeys: 5, lua: CREATE });
    this.redis.defineCommand('cgwSettle', { numberOfKeys: 3, lua: SETTLE });
    this.redis.defineCommand('cgwWatch', { numberOfKeys: 2, lua: WATCH });
    this.redis.defineCommand('cgwIndexTaskUser', { numberOfKeys: 1, lua: INDEX_TASK_USER });
    this.expiriesKey = shared.globalKey('expiries');
  }

  create(draft: Confirmation, limits: CreateLimits, waiter: string | null): Promise<CreateOutcome> {
    return this.shared.run(async () => {
      const ttlMs = this.pendingTtlMs(draft);
      const indexKey = this.shared.idKey('cb', draft.callbackId);
      const owner = ownerOf(draft.userId, draft.taskId);
      const [claim, total] = await Promise.all([
        this.redis.set(indexKey, owner, 'PX', ttlMs, 'NX', 'GET'),
        this.redis.zcard(this.expiriesKey),
      ]);
      if (claim !== null && claim !== owner) return { kind: 'conflict' };
      const claimedNow = claim === null;
      if (claimedNow && total >= limits.maxPendingTotal) {
        await this.redis.del(indexKey);
        return { kind: 'total_cap' };
      }
      const [kind, fields] = await this.redis.cgwCreate(
        this.recordKey(draft.userId, draft.callbackId),
        this.shared.userKey(draft.userId, 'pending'),
        this.shared.userKey(draft.userId, 'cx', draft.taskId),
        this.shared.userKey(draft.userId, 'inv', draft.taskId),
        this.waitersKey(draft.userId, draft.callbackId),
        draft.callbackId,
        draft.userId,
        draft.taskId,
        draft.step,
        draft.createdAt,
        draft.expiresAt,
        draft.stepName,
        draft.message,
        JSON.stringify(draft.frame),
        limits.maxPendingPerUser,
        waiter ?? '',
        ttlMs,
        this.settings.retentionMs,
      );
      if (kind === 'user_cap') {
        if (claimedNow) await this.redis.del(indexKey);
        return { kind: 'user_cap' };
      }
      if (kind === 'existing') return { kind: 'existing', confirmation: fromHash(fields as string[]) };
      // Created from the draft: no need to read back (and parse) the prompt just stored.
      const confirmation = fields === 'cancelled' ? bornCancelled(draft) : draft;
      await this.indexCreated(confirmation, ttlMs);
      return { kind: 'created', confirmation };
    });
  }

  get(callbackId: string): Promise<Confirmation | undefined> {
    return this.shared.run(async () => {
      const owner = await this.redis.get(this.shared.idKey('cb', callbackId));
      if (owner === null) return undefined;
      const fields = await this.redis.hgetall(this.recordKey(userOf(owner), callbackId));
      return fields.id === undefined ? undefined : fromRecord(fields);
    });
  }

  settle(userId: string, callbackId: string, settlement: Settlement): Promise<SettleOutcome> {
    return this.shared.run(async () => {
      const [[kind, fields, waiting]] = await Promise.all([
        this.redis.cgwSettle(
          this.recordKey(userId, callbackId),
          this.shared.userKey(userId, 'pending'),
          this.waitersKey(userId, callbackId),
          callbackId,
          settlement.state,
          settlement.proceed ? '1' : '0',
          settlement.feedback ?? '',
          settlement.settledAt,
          this.settings.retentionMs,
          settlement.feedback === null ? '0' : '1',
        ),
        // Whatever the outcome, this confirmation of this user no longer needs its expiry.
        this.redis.zrem(this.expiriesKey, expiryMember(userId, callbackId)),
      ]);
      if (kind === 'not_found') return { kind };
      const confirmation = fromHash(fields as string[]);
      if (kind === 'already') return { kind, confirmation };
      return { kind: 'settled', confirmation, waitingInstances: waiting ?? [] };
    });
  }

  watch(confirmation: Confirmation, instance: string): Promise<Confirmation | undefined> {
    return this.shared.run(async () => {
      const fields = await this.redis.cgwWatch(
        this.recordKey(confirmation.userId, confirmation.callbackId),
        this.waitersKey(confirmation.userId, confirmation.callbackId),
        instance,
        this.pendingTtlMs(confirmation),
      );
      return fields.length === 0 ? undefined : fromHash(fields);
    });
  }

  overdue(now: number, limit: number): Promise<Array<{ userId: string; callbackId: string }>> {
    return this.shared.run(async () => {
      const members = await this.redis.zrangebyscore(this.expiriesKey, '-inf', now, 'LIMIT', 0, limit);
      return members.map(parseExpiryMember);
    });
  }

  pendingForUser(userId: string): Promise<Confirmation[]> {
    return this.shared.run(async () => {
      const pendingKey = this.shared.userKey(userId, 'pending');
      const ids = await this.redis.zrange(pendingKey, 0, -1);
      if (ids.length === 0) return [];
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hgetall(this.recordKey(userId, id));
      const replies = (await pipeline.exec()) ?? [];
      const pending: Confirmation[] = [];
      replies.forEach(([err, fields], i) => {
        const record = fields as Record<string, string>;
        if (!err && record.st === 'pending') pending.push(fromRecord(record));
        else if (!err && record.id === undefined) void this.redis.zrem(pendingKey, ids[i]);
      });
      return pending;
    });
  }

  pendingForTask(taskId: string): Promise<Confirmation[]> {
    return this.shared.run(async () => {
      const users = await this.redis.zrange(this.shared.taskKey(taskId, 'users'), 0, -1);
      const perUser = await Promise.all(users.map((userId) => this.pendingForUser(userId)));
      return perUser.flat().filter((c) => c.taskId === taskId);
    });
  }

  pendingTotal(): Promise<number> {
    return this.shared.run(() => this.redis.zcard(this.expiriesKey));
  }

  involves(userId: string, taskId: string): Promise<boolean> {
    return this.shared.run(async () => (await this.redis.exists(this.shared.userKey(userId, 'inv', taskId))) === 1);
  }

  recordCancellation(cancellation: TaskCancellation): Promise<void> {
    return this.shared.run(async () => {
      const { userId, taskId, cancelledAt } = cancellation;
      const byTaskKey = this.shared.taskKey(taskId, 'cx');
      await Promise.all([
        this.redis.set(this.shared.userKey(userId, 'cx', taskId), String(cancelledAt), 'PX', this.settings.retentionMs),
        this.redis.multi().hset(byTaskKey, userId, String(cancelledAt)).pexpire(byTaskKey, this.settings.retentionMs).exec(),
      ]);
    });
  }

  cancellationOf(userId: string, taskId: string): Promise<TaskCancellation | undefined> {
    return this.shared.run(async () => {
      const at = await this.redis.get(this.shared.userKey(userId, 'cx', taskId));
      return at === null ? undefined : { userId, taskId, cancelledAt: Number(at) };
    });
  }

  latestCancellationOf(taskId: string): Promise<TaskCancellation | undefined> {
    return this.shared.run(async () => {
      const byUser = await this.redis.hgetall(this.shared.taskKey(taskId, 'cx'));
      const oldestKept = Date.now() - this.settings.retentionMs;
      let latest: TaskCancellation | undefined;
      for (const [userId, at] of Object.entries(byUser)) {
        const cancelledAt = Number(at);
        if (cancelledAt >= oldestKept && (!latest || cancelledAt >= latest.cancelledAt)) latest = { userId, taskId, cancelledAt };
      }
      return latest;
    });
  }

  /** The entries outside the user's slot: the expiry schedule and the task's users. */
  private async indexCreated(confirmation: Confirmation, ttlMs: number): Promise<void> {
    const pending = confirmation.state === 'pending';
    await Promise.all([
      pending ? this.redis.zadd(this.expiriesKey, confirmation.expiresAt, expiryMember(confirmation.userId, confirmation.callbackId)) : null,
      this.redis.cgwIndexTaskUser(this.shared.taskKey(confirmation.taskId, 'users'), confirmation.createdAt, confirmation.userId, ttlMs),
    ]);
  }

  private pendingTtlMs(confirmation: Confirmation): number {
    return Math.max(confirmation.expiresAt - Date.now(), 0) + this.settings.retentionMs;
  }

  private recordKey(userId: string, callbackId: string): string {
    return this.shared.userKey(userId, 'c', callbackId);
  }

  private waitersKey(userId: string, callbackId: string): string {
    return this.shared.userKey(userId, 'w', callbackId);
  }
}

/** The index value: who a callback_id belongs to. JSON, since user ids may hold any character. */
function ownerOf(userId: string, taskId: string): string {
  return JSON.stringify([userId, taskId]);
}

function userOf(owner: string): string {
  return (JSON.parse(owner) as [string, string])[0];
}

/** callback_ids have no newline (their pattern), so the first one separates the two. */
function expiryMember(userId: string, callbackId: string): string {
  return `${callbackId}\n${userId}`;
}

function parseExpiryMember(member: string): { userId: string; callbackId: string } {
  const cut = member.indexOf('\n');
  return { callbackId: member.slice(0, cut), userId: member.slice(cut + 1) };
}

/** What the create script stored for a draft whose task was already cancelled. */
function bornCancelled(draft: Confirmation): Confirmation {
  return { ...draft, frame: null, state: 'cancelled', proceed: false, feedback: null, settledAt: draft.createdAt };
}

function fromHash(flat: string[]): Confirmation {
  const record: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) record[flat[i]] = flat[i + 1];
  return fromRecord(record);
}

function fromRecord(r: Record<string, string>): Confirmation {
  const state = r.st as Confirmation['state'];
  return {
    callbackId: r.id,
    userId: r.u,
    taskId: r.t,
    step: Number(r.s),
    createdAt: Number(r.ca),
    expiresAt: Number(r.ea),
    stepName: r.sn,
    message: r.m,
    frame: r.f === undefined || r.f === '' ? null : (JSON.parse(r.f) as TaskStepResultFrame),
    state,
    proceed: state === 'pending' ? null : r.p === '1',
    feedback: r.fb ?? null,
    settledAt: r.sa === undefined ? null : Number(r.sa),
  };
}
