import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { validateEnvironment } from '../config/environment.js';
import { Audience, DeliveryService, ResolutionEvent } from '../delivery/delivery.service.js';
import { ErrorCode } from '../protocol/error-code.enum.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import type { Confirmation, NewConfirmation } from './confirmation.js';
import { ConfirmationService } from './confirmation.service.js';
import { ConfirmationEvents } from './confirmation-events.js';
import { MemoryConfirmationStore } from './memory-confirmation.store.js';
import { MemoryScheduleStore } from '../schedule/memory-schedule.store.js';
import { SchedulerService } from '../schedule/scheduler.service.js';

/** Records what would go to sockets; resolution events loop back as in one instance. */
class RecordingDelivery extends DeliveryService {
  readonly sent: Array<{ audience: Audience; frame: any }> = [];
  private listeners: Array<(e: ResolutionEvent) => void> = [];
  async deliver(audience: Audience, frame: object) {
    this.sent.push({ audience, frame });
    return 1;
  }
  async announceResolution(settled: Confirmation) {
    for (const l of this.listeners) l({ callbackId: settled.callbackId, confirmation: settled });
  }
  onResolution(listener: (e: ResolutionEvent) => void) {
    this.listeners.push(listener);
  }
  /** A wake-up from another instance without the record: the waiter reads the store. */
  wakeUpFromAnotherInstance(callbackId: string) {
    for (const l of this.listeners) l({ callbackId, fromElsewhere: true });
  }
  async endTaskSubscriptions() {}
  async admitUserConnection() {}
  async userReachable() {}
  async taskReachable() {}
  async broadcastReachable() {}
  onReconnect() {}
  async listConnections() {
    return { instances: [], unreachable: [], connections: [], truncated: false };
  }
  framesOfType(type: string) {
    return this.sent.filter((s) => s.frame.type === type);
  }
}

function serviceWith(env: Record<string, unknown> = {}) {
  const settings = validateEnvironment(env);
  const config = new ConfigService(settings as unknown as Record<string, unknown>);
  const delivery = new RecordingDelivery();
  const store = new MemoryConfirmationStore({
    retentionMs: settings.CONFIRMATION_RETENTION_SECONDS * 1000,
    maxRetained: settings.CONFIRMATION_MAX_RETAINED,
  });
  const backend = { hasPeers: false } as never;
  const scheduler = new SchedulerService(new MemoryScheduleStore(), backend);
  const events = new ConfirmationEvents();
  const service = new ConfirmationService(config as never, store, delivery, new InstanceIdentity(), new MetricsService(), backend, events, scheduler);
  return { service, delivery, store, events, scheduler };
}

const ask = (extra: Partial<NewConfirmation> = {}): NewConfirmation => ({
  userId: 'alice',
  taskId: 'task-1',
  step: 2,
  stepResult: { step: 'train', message: 'retry?', status: 'failed', error_code: 'E003' },
  ...extra,
});

async function codeOf(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'no error';
}

describe('ConfirmationService (memory store)', () => {
  let service: ConfirmationService;
  let delivery: RecordingDelivery;
  let store: MemoryConfirmationStore;

  // One log line per outcome is the service's job; the test output needs none of them.
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['error', 'warn', 'log']));

  beforeEach(() => {
    jest.useFakeTimers();
    ({ service, delivery, store } = serviceWith({ WEBSOCKET_CALLBACK_TIMEOUT: 10, CONFIRMATION_RETENTION_SECONDS: 60 }));
    store.onModuleInit();
  });
  afterEach(() => {
    service.onModuleDestroy();
    store.onModuleDestroy();
    jest.useRealTimers();
  });

  it('pushes the step result frame to the user only, with the original fields and the new ones', async () => {
    const { confirmation } = await service.create(ask());
    expect(delivery.sent).toHaveLength(1);
    expect(delivery.sent[0].audience).toEqual({ userIds: ['alice'] });
    expect(delivery.sent[0].frame).toMatchObject({
      type: 'task_step_result',
      callback_id: confirmation.callbackId,
      step: 2,
      step_name: 'train',
      completed: false,
      error_code: 'E003',
      error_message: null,
      result: null,
    });
    expect(service.stats()).toMatchObject({ pending: 1, created: 1 });
  });

  it('settles on the first answer and refuses the rest with stable codes', async () => {
    const { confirmation } = await service.create(ask());
    await service.answer(confirmation.callbackId, 'alice', true, 'ok', 'conn-1');
    expect(await service.get(confirmation.callbackId)).toMatchObject({ state: 'confirmed', proceed: true, feedback: 'ok' });
    const resolved = delivery.framesOfType('confirmation_resolved');
    expect(resolved[0].audience).toEqual({ userIds: ['alice'], exceptConnectionId: 'conn-1' });

    expect(await codeOf(() => service.answer(confirmation.callbackId, 'alice', false, null))).toBe(ErrorCode.AlreadyResolved);
    expect(await codeOf(() => service.answer('missing', 'alice', true, null))).toBe(ErrorCode.CallbackNotFound);
    const other = (await service.create(ask())).confirmation;
    expect(await codeOf(() => service.answer(other.callbackId, 'mallory', true, null))).toBe(ErrorCode.Forbidden);
    expect((await service.get(other.callbackId))?.state).toBe('pending');
  });

  it('reminds with n = 1..max every every_seconds, then stops; an answer stops them earlier', async () => {
    const { service: reminding, delivery: sent, events, scheduler } = serviceWith();
    const told: Array<[string, number]> = [];
    events.on((e) => void (e.type === 'reminder' && told.push([e.confirmation.callbackId, e.reminder])));
    const three = (await reminding.create(ask({ reminders: { everySeconds: 2, max: 3 } }))).confirmation;
    const answered = (await reminding.create(ask({ reminders: { everySeconds: 2, max: 3 } }))).confirmation;
    const reminders = () => sent.framesOfType('task_step_result').filter((s) => s.frame.reminder !== undefined);
    await jest.advanceTimersByTimeAsync(1999);
    expect(reminders()).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(reminders().map((s) => [s.frame.callback_id, s.frame.reminder])).toEqual([[three.callbackId, 1], [answered.callbackId, 1]]);
    expect(reminders()[0].frame).toMatchObject({ ...three.frame, reminder: 1 });
    expect(reminders()[0].audience.userIds).toEqual(['alice']);
    await reminding.answer(answered.callbackId, 'alice', true, null);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(reminders().map((s) => [s.frame.callback_id, s.frame.reminder])).toEqual([
      [three.callbackId, 1],
      [answered.callbackId, 1],
      [three.callbackId, 2],
      [three.callbackId, 3],
    ]);
    expect(told).toEqual([[three.callbackId, 1], [answered.callbackId, 1], [three.callbackId, 2], [three.callbackId, 3]]);
    reminding.onModuleDestroy();
    scheduler.onModuleDestroy();
  });

  it('schedules no reminder that would come after the expiry', async () => {
    const { service: reminding, delivery: sent, scheduler } = serviceWith();
    await reminding.create(ask({ timeoutSeconds: 5, reminders: { everySeconds: 2, max: 10 } }));
    await jest.advanceTimersByTimeAsync(20_000);
    expect(sent.framesOfType('task_step_result').map((s) => s.frame.reminder)).toEqual([undefined, 1, 2]);
    reminding.onModuleDestroy();
    scheduler.onModuleDestroy();
  });

  it('expires a confirmation longer than one timer holds (30 days) when its time comes', async () => {
    const { service: long } = serviceWith({ WEBSOCKET_MAX_CALLBACK_TIMEOUT: String(30 * 86400) });
    const { confirmation } = await long.create(ask({ timeoutSeconds: 30 * 86400 }));
    expect(confirmation.expiresAt - confirmation.createdAt).toBe(30 * 86400 * 1000);
    await jest.advanceTimersByTimeAsync(30 * 86400 * 1000 - 1);
    expect((await long.get(confirmation.callbackId))?.state).toBe('pending');
    await jest.advanceTimersByTimeAsync(1);
    expect((await long.get(confirmation.callbackId))?.state).toBe('timed_out');
    long.onModuleDestroy();
  });

  it('times out with the configured decision and closes the prompt', async () => {
    const { confirmation } = await service.create(ask({ timeoutSeconds: 1 }));
    await jest.advanceTimersByTimeAsync(999);
    expect((await service.get(confirmation.callbackId))?.state).toBe('pending');
    await jest.advanceTimersByTimeAsync(1);
    expect(await service.get(confirmation.callbackId)).toMatchObject({ state: 'timed_out', proceed: true });
    expect(delivery.framesOfType('confirmation_resolved')[0].frame.state).toBe('timed_out');

    const strict = serviceWith({ WEBSOCKET_TIMEOUT_DECISION: 'reject' }).service;
    const c = (await strict.create(ask({ timeoutSeconds: 1 }))).confirmation;
    await jest.advanceTimersByTimeAsync(1000);
    expect((await strict.get(c.callbackId))?.proceed).toBe(false);
    strict.onModuleDestroy();
  });

  it('caps a requested timeout at the configured maximum', async () => {
    const capped = serviceWith({ WEBSOCKET_MAX_CALLBACK_TIMEOUT: 5 }).service;
    const c = (await capped.create(ask({ timeoutSeconds: 1000 }))).confirmation;
    expect(c.expiresAt - c.createdAt).toBe(5000);
    capped.onModuleDestroy();
  });

  it('returns the same confirmation for a repeated callback_id and refuses it for another user', async () => {
    const first = await service.create(ask({ callbackId: 'cb-1' }));
    const again = await service.create(ask({ callbackId: 'cb-1' }));
    expect(again).toEqual({ confirmation: first.confirmation, created: false });
    expect(delivery.framesOfType('task_step_result')).toHaveLength(1);
    expect(await codeOf(() => service.create(ask({ callbackId: 'cb-1', userId: 'mallory' })))).toBe(ErrorCode.CallbackConflict);
  });

  it('refuses past the per-user and total caps with 429 codes', async () => {
    const small = serviceWith({ CONFIRMATION_MAX_PENDING_PER_USER: 1, CONFIRMATION_MAX_PENDING_TOTAL: 2 }).service;
    await small.create(ask());
    expect(await codeOf(() => small.create(ask()))).toBe(ErrorCode.TooManyPending);
    await small.create(ask({ userId: 'bob' }));
    expect(await codeOf(() => small.create(ask({ userId: 'carol' })))).toBe(ErrorCode.TooManyPending);
    small.onModuleDestroy();
  });

  it('cancels only the user\'s pending confirmations of the task and remembers the cancellation', async () => {
    const mine = (await service.create(ask())).confirmation;
    const otherTask = (await service.create(ask({ taskId: 'task-2' }))).confirmation;
    const otherUser = (await service.create(ask({ userId: 'bob' }))).confirmation;
    expect((await service.cancelTask('alice', 'task-1')).map((c) => c.callbackId)).toEqual([mine.callbackId]);
    expect(await service.get(mine.callbackId)).toMatchObject({ state: 'cancelled', proceed: false });
    expect((await service.get(otherTask.callbackId))?.state).toBe('pending');
    expect((await service.get(otherUser.callbackId))?.state).toBe('pending');
    expect(await service.cancellationOf('alice', 'task-1')).toMatchObject({ userId: 'alice' });
    expect(await service.cancellationOf('bob', 'task-1')).toBeUndefined();

    const late = (await service.create(ask())).confirmation;
    expect(late.state).toBe('cancelled');
    expect(delivery.sent.filter((s) => s.frame.callback_id === late.callbackId)).toHaveLength(0);
  });

  it('wakes a waiter on settlement and releases it when the caller stops waiting', async () => {
    const { confirmation } = await service.create(ask());
    const waiting = service.waitForSettlement(confirmation.callbackId, 60_000);
    await Promise.resolve();
    await service.answer(confirmation.callbackId, 'alice', false, null);
    expect((await waiting)?.state).toBe('rejected');

    const pending = (await service.create(ask())).confirmation;
    let stop: (() => void) | undefined;
    const abandoned = service.waitForSettlement(pending.callbackId, 60_000, (stopWaiting) => (stop = stopWaiting));
    await jest.advanceTimersByTimeAsync(0);
    stop?.();
    expect((await abandoned)?.state).toBe('pending');
    expect(jest.getTimerCount()).toBe(2); // the retention sweep and the pending expiry; no waiter timer left
  });

  it('keeps at most CONFIRMATION_MAX_RETAINED settled confirmations, dropping the oldest first', async () => {
    const small = serviceWith({ CONFIRMATION_MAX_RETAINED: 2 }).service;
    for (const n of [1, 2, 3]) await small.create(ask({ callbackId: `cb-${n}` }));
    for (const n of [1, 2, 3]) await small.answer(`cb-${n}`, 'alice', true, null);
    expect(await small.get('cb-1')).toBeUndefined();
    expect((await small.get('cb-2'))?.state).toBe('confirmed');
    expect((await small.get('cb-3'))?.state).toBe('confirmed');
    small.onModuleDestroy();
  });

  it('refuses new confirmations once shutting down, and stops waiting', async () => {
    const { confirmation } = await service.create(ask());
    service.onModuleDestroy();
    expect(await codeOf(() => service.create(ask()))).toBe(ErrorCode.Unavailable);
    expect((await service.waitForSettlement(confirmation.callbackId, 60_000))?.state).toBe('pending');
  });

  it('keeps the newest decisions through many settles past the cap, and forgets who took part', async () => {
    const busy = serviceWith({ CONFIRMATION_MAX_RETAINED: 100 }).service;
    for (let n = 0; n < 3000; n++) {
      const id = (await busy.create(ask({ callbackId: `cb-${n}`, taskId: `task-${n}` }))).confirmation.callbackId;
      await busy.answer(id, 'alice', n % 2 === 0, null);
    }
    expect(await busy.get('cb-2899')).toBeUndefined();
    expect((await busy.get('cb-2900'))?.state).toBe('confirmed');
    expect((await busy.get('cb-2999'))?.state).toBe('rejected');
    expect(await busy.involves('alice', 'task-2899')).toBe(false);
    expect(await busy.involves('alice', 'task-2950')).toBe(true);
    busy.onModuleDestroy();
  });

  it('forgets settled confirmations and cancellations after their retention', async () => {
    const { confirmation } = await service.create(ask());
    await service.answer(confirmation.callbackId, 'alice', true, null);
    await service.cancelTask('alice', 'task-9');
    await jest.advanceTimersByTimeAsync(59_000);
    expect(await service.get(confirmation.callbackId)).toBeDefined();
    await jest.advanceTimersByTimeAsync(31_000);
    expect(await service.get(confirmation.callbackId)).toBeUndefined();
    expect(await service.cancellationOf('alice', 'task-9')).toBeUndefined();
  });

  it('wakes a caller whose decision came from another instance before it started waiting', async () => {
    const created = await service.create(ask(), true);
    // As the Redis store returns it: a copy, which the settle below does not change.
    const confirmation = { ...created.confirmation };
    // Another instance settles it, and its wake-up outruns create()'s return to the caller.
    await store.settle('alice', confirmation.callbackId, { state: 'confirmed', proceed: true, feedback: 'ok', settledAt: Date.now() });
    delivery.wakeUpFromAnotherInstance(confirmation.callbackId);
    let settled: unknown = 'still waiting';
    void service.waitForSettlement(confirmation.callbackId, Infinity, undefined, confirmation).then((c) => (settled = c));
    await jest.advanceTimersByTimeAsync(0);
    expect(settled).toMatchObject({ callbackId: confirmation.callbackId, state: 'confirmed', proceed: true, feedback: 'ok' });
  });
});
