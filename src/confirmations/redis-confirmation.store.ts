import { LuaScripts } from '../redis/lua-scripts.js';
import type { RedisClient } from '../redis/redis-connection.js';
import { RedisService } from '../redis/redis.service.js';
import { MAX_APPROVERS_TOTAL, MAX_VOTES } from '../approvals/approval-limits.js';
import type { Approval, Confirmation, Vote } from './confirmation.js';
import { promptJson, withStoredPrompt } from './prompt-json.js';
import {
  AddApproversOutcome,
  Ballot,
  ConfirmationStore,
  CreateLimits,
  CreateOutcome,
  Settlement,
  SettleOutcome,
  TaskCancellation,
  Voter,
  VoteOutcome,
} from './confirmation.store.js';
import type { RetentionSettings } from './memory-confirmation.store.js';

/**
 * Confirmations in Redis, shared by every instance (cluster mode).
 *
 * A confirmation lives in its user's hash slot (record, waiters, the user's pending set,
 * involvement and cancellation keys), so create and settle are single-slot scripts. Outside
 * it: the callback_id index (`{cb:<id>}` -> owner, for lookups by id and idempotency), the
 * task's users and cancellations (`{t:<task>}`), one expiry schedule (`{global}:expiries`)
 * that every instance scans, so a confirmation times out even when the instance that made it
 * died, and that counts the pending ones for the total cap; and the retained decisions
 * (`{global}:retained`) for CONFIRMATION_MAX_RETAINED. Every key expires: pending ones after
 * their timeout plus retention, settled ones after retention. The scripts are
 * src/redis/lua/confirmation-*.lua.
 */
export class RedisConfirmationStore extends ConfirmationStore {
  private readonly redis: RedisClient;
  private readonly scripts: LuaScripts;
  private readonly expiriesKey: string;
  /** Settled confirmations by when they settled, for CONFIRMATION_MAX_RETAINED. */
  private readonly retainedKey: string;

  constructor(
    private readonly shared: RedisService,
    private readonly settings: RetentionSettings,
  ) {
    super();
    this.redis = shared.commands;
    this.scripts = LuaScripts.of(shared.commands);
    this.expiriesKey = shared.globalKey('expiries');
    this.retainedKey = shared.globalKey('retained');
  }

  create(draft: Confirmation, limits: CreateLimits, waiter: string | null): Promise<CreateOutcome> {
    return this.shared.run(async () => {
      const ttlMs = this.pendingTtlMs(draft);
      const indexKey = this.shared.idKey('cb', draft.callbackId);
      const owner = ownerOf(draft.userId, draft.taskId);
      const member = expiryMember(draft.userId, draft.callbackId);
      // One round trip for the three slots outside the user's: the callback_id, the expiry
      // schedule and the task's users. The last is only an index pendingForTask filters,
      // so listing a user whose create then fails costs nothing but a look.
      const [claim, reservation] = await Promise.all([
        this.redis.set(indexKey, owner, 'PX', ttlMs, 'NX', 'GET'),
        this.scripts.run('confirmationReserve', [this.expiriesKey], [member, draft.expiresAt, limits.maxPendingTotal]),
        this.indexTaskUser(draft, ttlMs),
        // Approvers' indexes in the same round trip: an entry of a create that then fails is filtered by its reader.
        draft.approval?.approvers ? this.indexApprovers(draft, draft.approval.approvers.users, draft.approval.approvers.groups) : null,
      ]);
      // A place this call reserved and did not use goes back. Not when the member may be
      // another pending confirmation's (this user's, of another task): a place wrongly kept
      // is only counted until the overdue scan meets it, a place wrongly freed loses an expiry.
      const release = () => (reservation === 'reserved' ? this.redis.zrem(this.expiriesKey, member) : null);
      if (claim !== null && claim !== owner) {
        if (userOf(claim) !== draft.userId) await release();
        return { kind: 'conflict' };
      }
      const [kind, fields] = await this.scripts.run(
        'confirmationCreate',
        [
          this.recordKey(draft.userId, draft.callbackId),
          this.shared.userKey(draft.userId, 'pending'),
          this.shared.userKey(draft.userId, 'cx', draft.taskId),
          this.shared.userKey(draft.userId, 'involved', draft.taskId),
          this.waitersKey(draft.userId, draft.callbackId),
        ],
        [
          draft.callbackId,
          draft.userId,
          draft.taskId,
          draft.step,
          draft.createdAt,
          draft.expiresAt,
          draft.stepName,
          draft.message,
          promptJson(draft) ?? '',
          limits.maxPendingPerUser,
          waiter ?? '',
          ttlMs,
          this.settings.retentionMs,
          reservation === 'full' ? '1' : '0',
          Date.now(),
          ...(draft.approval ? approvalArgs(draft.approval) : []),
        ],
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
        await Promise.all([this.retainBornSettled(confirmation), this.redis.pexpire(indexKey, this.settings.retentionMs)]);
        return { kind: 'created', confirmation };
      }
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
        this.scripts.run(
          'confirmationSettle',
          [this.recordKey(userId, callbackId), this.shared.userKey(userId, 'pending'), this.waitersKey(userId, callbackId)],
          [
            callbackId,
            settlement.state,
            settlement.proceed ? '1' : '0',
            settlement.feedback ?? '',
            settlement.settledAt,
            this.settings.retentionMs,
            settlement.feedback === null ? '0' : '1',
          ],
        ),
        // Whatever the outcome, this confirmation of this user no longer needs its expiry;
        // the call that takes it out of the schedule counts it among the retained.
        this.scripts.run('confirmationRetain', [this.expiriesKey, this.retainedKey], [
          expiryMember(userId, callbackId), settlement.settledAt, this.settings.maxRetained, Date.now() - this.settings.retentionMs, '0', this.settings.retentionMs,
        ]),
        this.scripts.run('confirmationExpireIndex', [this.shared.idKey('cb', callbackId)], [userId, this.settings.retentionMs]),
      ]);
      await this.forget(dropped);
      if (kind === 'not_found') return { kind };
      const confirmation = fromHash(fields as string[]);
      if (kind === 'already') return { kind, confirmation };
      if (kind === 'needs_vote') {
        // Still pending: what ran beside the script for a settled one is undone.
        await this.keepPending(confirmation);
        return { kind, confirmation };
      }
      return { kind: 'settled', confirmation, waitingInstances: waiting ?? [] };
    });
  }

  vote(callbackId: string, voter: Voter, ballot: Ballot, at: number): Promise<VoteOutcome> {
    return this.shared.run(async () => {
      const owner = await this.redis.get(this.shared.idKey('cb', callbackId));
      if (owner === null) return { kind: 'not_found' };
      const userId = userOf(owner);
      const vote = JSON.stringify({ u: voter.userId, p: ballot.proceed, o: ballot.option, a: at });
      const [kind, fieldsOrVotes, extra] = await this.scripts.run(
        'confirmationVote',
        [this.recordKey(userId, callbackId), this.shared.userKey(userId, 'pending'), this.waitersKey(userId, callbackId)],
        [
          callbackId,
          voter.userId,
          JSON.stringify(voter.groups),
          ballot.proceed ? '1' : '0',
          ballot.option ?? '',
          ballot.option === null ? '0' : '1',
          ballot.data === null ? '' : JSON.stringify(ballot.data),
          ballot.feedback ?? '',
          ballot.feedback === null ? '0' : '1',
          at,
          this.settings.retentionMs,
          vote,
          MAX_VOTES,
        ],
      );
      switch (kind) {
        case 'not_found':
        case 'not_an_approver':
        case 'self_forbidden':
        case 'already_voted':
        case 'votes_full':
          return { kind };
        case 'already':
          return { kind, confirmation: fromHash(fieldsOrVotes as string[]) };
        case 'recorded':
          return { kind, votes: parseVotes(fieldsOrVotes as string), needed: Number(extra) };
      }
      const confirmation = fromHash(fieldsOrVotes as string[]);
      const [dropped] = await Promise.all([
        this.scripts.run('confirmationRetain', [this.expiriesKey, this.retainedKey], [
          expiryMember(userId, callbackId), at, this.settings.maxRetained, Date.now() - this.settings.retentionMs, '0', this.settings.retentionMs,
        ]),
        this.scripts.run('confirmationExpireIndex', [this.shared.idKey('cb', callbackId)], [userId, this.settings.retentionMs]),
      ]);
      await this.forget(dropped);
      return { kind: 'settled', confirmation, waitingInstances: (extra as string[] | undefined) ?? [] };
    });
  }

  pendingForApprover(userId: string, groups: readonly string[]): Promise<Confirmation[]> {
    return this.shared.run(async () => {
      const now = Date.now();
      const keys = [this.approverKey(userId), ...groups.map((group) => this.groupKey(group))];
      const lists = await Promise.all(keys.map((key) => this.redis.zrangebyscore(key, now, '+inf')));
      const members = [...new Set(lists.flat())].map(parseExpiryMember);
      if (members.length === 0) return [];
      // Records of several users' slots: concurrent reads (a pipeline is one slot's in a cluster).
      const records = await Promise.all(members.map(({ userId: owner, callbackId }) => this.redis.hgetall(this.recordKey(owner, callbackId))));
      return records.filter((r) => r.st === 'pending').map(fromRecord);
    });
  }

  addApprovers(callbackId: string, users: readonly string[], groups: readonly string[]): Promise<AddApproversOutcome> {
    return this.shared.run(async () => {
      const owner = await this.redis.get(this.shared.idKey('cb', callbackId));
      if (owner === null) return { kind: 'not_found' };
      const userId = userOf(owner);
      const [kind, fields, addedUsers, addedGroups, had] = await this.scripts.run(
        'confirmationAddApprovers',
        [this.recordKey(userId, callbackId)],
        [JSON.stringify([...users]), JSON.stringify([...groups]), MAX_APPROVERS_TOTAL],
      );
      if (kind === 'not_found') return { kind };
      const confirmation = fromHash(fields as string[]);
      if (kind === 'already') return { kind, confirmation };
      const newUsers = JSON.parse(addedUsers as string) as string[];
      const newGroups = JSON.parse(addedGroups as string) as string[];
      // Without approvers before, its user is one now too (and was never indexed as one).
      await this.indexApprovers(confirmation, had === '1' ? newUsers : (confirmation.approval?.approvers?.users ?? []), newGroups);
      return { kind: 'added', confirmation, users: newUsers, groups: newGroups };
    });
  }

  watch(confirmation: Confirmation, instance: string): Promise<Confirmation | undefined> {
    return this.shared.run(async () => {
      const fields = await this.scripts.run(
        'confirmationWatch',
        [this.recordKey(confirmation.userId, confirmation.callbackId), this.waitersKey(confirmation.userId, confirmation.callbackId)],
        [instance, this.pendingTtlMs(confirmation)],
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

  /**
   * The approvers' indexes (outside the user's slot): each approver user's and group's
   * sorted set of its confirmations by expiry; a settled one is filtered by its reader.
   */
  private async indexApprovers(confirmation: Confirmation, users: readonly string[], groups: readonly string[]): Promise<void> {
    const member = expiryMember(confirmation.userId, confirmation.callbackId);
    const ttlMs = this.pendingTtlMs(confirmation);
    const keys = [...users.map((user) => this.approverKey(user)), ...groups.map((group) => this.groupKey(group))];
    await Promise.all(keys.map((key) => this.scripts.run('confirmationIndexApprover', [key], [confirmation.expiresAt, member, ttlMs])));
  }

  /** Undoes what settle() ran beside its script, for a confirmation that stays pending (needs_vote). */
  private async keepPending(confirmation: Confirmation): Promise<void> {
    const member = expiryMember(confirmation.userId, confirmation.callbackId);
    await Promise.all([
      this.redis.zadd(this.expiriesKey, confirmation.expiresAt, member),
      this.redis.zrem(this.retainedKey, member),
      this.redis.pexpire(this.shared.idKey('cb', confirmation.callbackId), this.pendingTtlMs(confirmation)),
    ]);
  }

  private approverKey(userId: string): string {
    return this.shared.userKey(userId, 'approving');
  }

  private groupKey(group: string): string {
    return this.shared.idKey('g', group);
  }

  /** The task's users, outside the user's slot. */
  private async indexTaskUser(confirmation: Confirmation, ttlMs: number): Promise<void> {
    await this.scripts.run('confirmationIndexTaskUser', [this.shared.taskKey(confirmation.taskId, 'users')], [confirmation.createdAt, confirmation.userId, ttlMs]);
  }

  /** Counts a confirmation born settled among the retained ones. */
  private async retainBornSettled(confirmation: Confirmation): Promise<void> {
    const member = expiryMember(confirmation.userId, confirmation.callbackId);
    const oldestKept = Date.now() - this.settings.retentionMs;
    const dropped = await this.scripts.run('confirmationRetain', [this.expiriesKey, this.retainedKey], [
      member, confirmation.settledAt ?? Date.now(), this.settings.maxRetained, oldestKept, '1', this.settings.retentionMs,
    ]);
    await this.forget(dropped);
  }

  /**
   * Deletes decisions dropped past CONFIRMATION_MAX_RETAINED: the record, then its
   * callback_id, which is free again (while the record exists nobody else can claim it).
   */
  private async forget(members: string[]): Promise<void> {
    await Promise.all(
      members.map(parseExpiryMember).map(async ({ userId, callbackId }) => {
        if ((await this.scripts.run('confirmationForget', [this.recordKey(userId, callbackId)], [])) === 1) await this.redis.del(this.shared.idKey('cb', callbackId));
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

/** The create script's approval arguments (ARGV[16..21]). */
function approvalArgs(approval: Approval): string[] {
  const { approvers, ...rest } = approval;
  return [
    JSON.stringify(rest),
    approval.policy,
    approval.quorum === undefined ? '' : String(approval.quorum),
    approval.forbiddenVoter ?? '',
    approvers ? JSON.stringify(approvers.users) : '',
    approvers ? JSON.stringify(approvers.groups) : '',
  ];
}

function parseVotes(json: string): Vote[] {
  return (JSON.parse(json) as Array<{ u: string; p: boolean; o: string | null; a: number }>).map((v) => ({ userId: v.u, proceed: v.p, option: v.o, at: v.a }));
}

/** A record's approval fields ('ap' and the rest, see confirmation-vote.lua), when it has them. */
function withApproval(record: Confirmation, r: Record<string, string>): Confirmation {
  const approval = JSON.parse(r.ap) as Approval;
  if (r.au !== undefined) approval.approvers = { users: JSON.parse(r.au) as string[], groups: JSON.parse(r.ag ?? '[]') as string[] };
  record.approval = approval;
  record.votes = r.v ? parseVotes(r.v) : [];
  record.option = r.o ?? null;
  record.data = r.d ? (JSON.parse(r.d) as Record<string, unknown>) : null;
  record.decidedBy = r.by ?? null;
  return record;
}

/** The prompt stays the JSON stored ('f'), not parsed on the way to a socket. */
function fromRecord(r: Record<string, string>): Confirmation {
  const state = r.st as Confirmation['state'];
  const record: Confirmation = {
    callbackId: r.id,
    userId: r.u,
    taskId: r.t,
    step: Number(r.s),
    createdAt: Number(r.ca),
    expiresAt: Number(r.ea),
    stepName: r.sn,
    message: r.m,
    frame: null,
    state,
    proceed: state === 'pending' ? null : r.p === '1',
    feedback: r.fb ?? null,
    settledAt: r.sa === undefined ? null : Number(r.sa),
  };
  if (r.ap !== undefined) withApproval(record, r);
  return r.f === undefined || r.f === '' ? record : withStoredPrompt(record, r.f);
}
