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
 * Create: one confirmation per callback_id, the caps and "born cancelled" decided in one
 * step. The total cap was decided just before by a reservation in the expiry schedule
 * (RESERVE): ARGV[14] is '1' when there was no room, which only a cancelled task ignores.
 * KEYS: record, user's pending set, cancellation, involvement, waiters.
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
if not cancelled then
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[10]) then return {'user_cap'} end
  if ARGV[14] == '1' then return {'total_cap'} end
end
local function store(...)
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'u', ARGV[2], 't', ARGV[3], 's', ARGV[4], 'ca', ARGV[5], 'ea', ARGV[6], 'sn', ARGV[7], 'm', ARGV[8], ...)
end
local kept = tonumber(ARGV[12])
if cancelled then
  store('st', 'cancelled', 'p', '0', 'sa', ARGV[5])
  kept = tonumber(ARGV[13])
  redis.call('PEXPIRE', KEYS[1], kept)
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
-- Involvement: the user's confirmations of the task, each until its record would expire.
-- A record can go sooner (settled, or dropped past CONFIRMATION_MAX_RETAINED): involves() checks.
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[15])
redis.call('ZADD', KEYS[4], tonumber(ARGV[15]) + kept, ARGV[1])
if redis.call('PTTL', KEYS[4]) < kept then redis.call('PEXPIRE', KEYS[4], kept) end
return {'created', cancelled and 'cancelled' or 'pending'}
`;

/**
 * Reserve a place in the expiry schedule, which counts the pending confirmations of the
 * deployment: the total cap is checked and taken in one step. KEYS: the schedule. ARGV:
 * member, expiry, total cap. Answers 'present' (a replay of a pending one), 'full' or 'reserved'.
 */
const RESERVE = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'present' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 'reserved'
`;

/**
 * A confirmation leaves the expiry schedule and joins the retained decisions; past
 * CONFIRMATION_MAX_RETAINED the oldest are popped, for the caller to delete. Only the call
 * that takes it out of the schedule adds it (or, with ARGV[5] = '1', one born settled).
 * KEYS: the schedule, the retained decisions. ARGV: member, settled at, max retained,
 * oldest still retained, force, retention ms. Answers the popped members.
 */
const RETAIN = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 and ARGV[5] ~= '1' then return {} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
-- Every member is past its retention once the newest is: then the set goes too.
redis.call('PEXPIRE', KEYS[2], ARGV[6])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess <= 0 then return {} end
local popped = redis.call('ZPOPMIN', KEYS[2], excess)
local members = {}
for i = 1, #popped, 2 do members[#members + 1] = popped[i] end
return members
`;

/**
 * The callback_id stays taken as long as its record: once its user's confirmation settles,
 * the index expires with the record. KEYS: the index. ARGV: user, TTL ms.
 */
const EXPIRE_INDEX = `
local owner = redis.call('GET', KEYS[1])
if owner and cjson.decode(owner)[1] == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
`;

/** Drop a retained decision early (never a pending one). KEYS: record. Answers 1 if dropped. */
const FORGET = `
local state = redis.call('HGET', KEYS[1], 'st')
if not state or state == 'pending' then return 0 end
return redis.call('DEL', KEYS[1])
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
  cgwReserve(...args: Array<string | number>): Promise<'present' | 'full' | 'reserved'>;
  cgwRetain(...args: Array<string | number>): Promise<string[]>;
  cgwExpireIndex(...args: Array<string | number>): Promise<null>;
  cgwForget(...args: Array<string | number>): Promise<number>;
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
  /** Settled confirmations by when they settled, for CONFIRMATION_MAX_RETAINED. */
  private readonly retainedKey: string;

  constructor(
    private readonly shared: RedisService,
    private readonly settings: RetentionSettings,
  ) {
    super();
    this.redis = shared.commands as unknown as ScriptedRedis;
    this.redis.defineCommand('cgwCreate', { numberOfKeys: 5, lua: CREATE });
    this.redis.defineCommand('cgwReserve', { numberOfKeys: 1, lua: RESERVE });
    this.redis.defineCommand('cgwRetain', { numberOfKeys: 2, lua: RETAIN });
    this.redis.defineCommand('cgwExpireIndex', { numberOfKeys: 1, lua: EXPIRE_INDEX });
    this.redis.defineCommand('cgwForget', { numberOfKeys: 1, lua: FORGET });
    this.redis.defineCommand('cgwSettle', { numberOfKeys: 3, lua: SETTLE });
    this.redis.defineCommand('cgwWatch', { numberOfKeys: 2, lua: WATCH });
    this.redis.defineCommand('cgwIndexTaskUser', { numberOfKeys: 1, lua: INDEX_TASK_USER });
    this.expiriesKey = shared.globalKey('expiries');
    this.retainedKey = shared.globalKey('retained');
  }

  create(draft: Confirmation, limits: CreateLimits, waiter: string | null): Promise<CreateOutcome> {
    return this.shared.run(async () => {
      const ttlMs = this.pendingTtlMs(draft);
      const indexKey = this.shared.idKey('cb', draft.callbackId);
      const owner = ownerOf(draft.userId, draft.taskId);
      const member = expiryMember(draft.userId, draft.callbackId);
      const [claim, reservation] = await Promise.all([
        this.redis.set(indexKey, owner, 'PX', ttlMs, 'NX', 'GET'),
        this.redis.cgwReserve(this.expiriesKey, member, draft.expiresAt, limits.maxPendingTotal),
      ]);
      // A place this call reserved and did not use goes back. Not when the member may be
      // another pending confirmation's (this user's, of another task): a place wrongly kept
      // is only counted until the overdue scan meets it, a place wrongly freed loses an expiry.
      const release = () => (reservation === 'reserved' ? this.redis.zrem(this.expiriesKey, member) : null);
      if (claim !== null && claim !== owner) {
        if (userOf(claim) !== draft.userId) await release();
        return { kind: 'conflict' };
      }
      const [kind, fields] = await this.redis.cgwCreate(
        this.recordKey(draft.userId, draft.callbackId),
        this.shared.userKey(draft.userId, 'pending'),
        this.shared.userKey(draft.userId, 'cx', draft.taskId),
        this.shared.userKey(draft.userId, 'involved', draft.taskId),
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
        reservation === 'full' ? '1' : '0',
        Date.now(),
      );
      if (kind === 'user_cap' || kind === 'total_cap') {
        await Promise.all([claim === null ? this.redis.del(indexKey) : null, release()]);
        return { kind };
      }
      if (kind === 'existing') {
        const existing = fromHash(fields as string[]);
        // A pending one holds its place (reserved by whichever concurrent call came first).
        if (existing.state !== 'pending') await release();
        return { kind: 'existing', confirmation: existing };
      }
      // Created from the draft: no need to read back (and parse) the prompt just stored.
      if (fields === 'cancelled') {
        const confirmation = bornCancelled(draft);
        await Promise.all([this.indexTaskUser(confirmation, ttlMs), this.retainBornSettled(confirmation), this.redis.pexpire(indexKey, this.settings.retentionMs)]);
        return { kind: 'created', confirmation };
      }
      await this.indexTaskUser(draft, ttlMs);
      return { kind: 'created', confirmation: { ...draft } };
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
      const [[kind, fields, waiting], dropped] = await Promise.all([
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
        // Whatever the outcome, this confirmation of this user no longer needs its expiry;
        // the call that takes it out of the schedule counts it among the retained.
        this.redis.cgwRetain(this.expiriesKey, this.retainedKey, expiryMember(userId, callbackId), settlement.settledAt, this.settings.maxRetained, Date.now() - this.settings.retentionMs, '0', this.settings.retentionMs),
        this.redis.cgwExpireIndex(this.shared.idKey('cb', callbackId), userId, this.settings.retentionMs),
      ]);
      await this.forget(dropped);
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

  /** Involved while one of the user's confirmations of the task is kept (pending or retained). */
  involves(userId: string, taskId: string): Promise<boolean> {
    return this.shared.run(async () => {
      const ids = await this.redis.zrangebyscore(this.shared.userKey(userId, 'involved', taskId), Date.now(), '+inf');
      if (ids.length === 0) return false;
      return (await this.redis.exists(...ids.map((id) => this.recordKey(userId, id)))) > 0;
    });
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

  /** The task's users, outside the user's slot (the expiry schedule entry was reserved before). */
  private async indexTaskUser(confirmation: Confirmation, ttlMs: number): Promise<void> {
    await this.redis.cgwIndexTaskUser(this.shared.taskKey(confirmation.taskId, 'users'), confirmation.createdAt, confirmation.userId, ttlMs);
  }

  /** Counts a confirmation born settled among the retained ones. */
  private async retainBornSettled(confirmation: Confirmation): Promise<void> {
    const member = expiryMember(confirmation.userId, confirmation.callbackId);
    const oldestKept = Date.now() - this.settings.retentionMs;
    const dropped = await this.redis.cgwRetain(this.expiriesKey, this.retainedKey, member, confirmation.settledAt ?? Date.now(), this.settings.maxRetained, oldestKept, '1', this.settings.retentionMs);
    await this.forget(dropped);
  }

  /**
   * Deletes decisions dropped past CONFIRMATION_MAX_RETAINED: the record, then its
   * callback_id, which is free again (while the record exists nobody else can claim it).
   */
  private async forget(members: string[]): Promise<void> {
    await Promise.all(
      members.map(parseExpiryMember).map(async ({ userId, callbackId }) => {
        if ((await this.redis.cgwForget(this.recordKey(userId, callbackId))) === 1) await this.redis.del(this.shared.idKey('cb', callbackId));
      }),
    );
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
