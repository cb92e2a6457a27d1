import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import { validateEnvironment } from '../config/environment.js';
import { Audience, DeliveryService, ResolutionEvent } from '../delivery/delivery.service.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type { NewConfirmation } from './confirmation.js';
import { ConfirmationService } from './confirmation.service.js';

/** Records what would go to sockets; resolution events loop back as in one instance. */
class RecordingDelivery extends DeliveryService {
  readonly sent: Array<{ audience: Audience; frame: any }> = [];
  private listeners: Array<(e: ResolutionEvent) => void> = [];
  async deliver(audience: Audience, frame: object) {
    this.sent.push({ audience, frame });
    return 1;
  }
  announceResolution(event: ResolutionEvent) {
    for (const l of this.listeners) l(event);
  }
  onResolution(listener: (e: ResolutionEvent) => void) {
    this.listeners.push(listener);
  }
  framesOfType(type: string) {
    return this.sent.filter((s) => s.frame.type === type);
  }
}

function serviceWith(env: Record<string, unknown> = {}) {
  const config = new ConfigService(validateEnvironment(env) as unknown as Record<string, unknown>);
  const delivery = new RecordingDelivery();
  return { service: new ConfirmationService(config as never, delivery), delivery };
}

const ask = (extra: Partial<NewConfirmation> = {}): NewConfirmation => ({
  userId: 'alice',
  taskId: 'task-1',
  step: 2,
  stepResult: { step: 'train', message: 'retry?', status: 'failed', error_code: 'E003' },
  ...extra,
});

describe('ConfirmationService', () => {
  let service: ConfirmationService;
  let delivery: RecordingDelivery;

  beforeEach(() => {
    jest.useFakeTimers();
    ({ service, delivery } = serviceWith({ WEBSOCKET_CALLBACK_TIMEOUT: 10, CONFIRMATION_RETENTION_SECONDS: 60 }));
    service.onModuleInit();
  });
  afterEach(() => {
    service.onModuleDestroy();
    jest.useRealTimers();
  });

  it('pushes the step result frame to the user only, with the original fields and the new ones', () => {
    const { confirmation } = service.create(ask());
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

  it('settles on the first answer and refuses the rest with stable codes', () => {
    const { confirmation } = service.create(ask());
    service.answer(confirmation.callbackId, 'alice', true, 'ok', 'conn-1');
    expect(confirmation).toMatchObject({ state: 'confirmed', proceed: true, feedback: 'ok' });
    const resolved = delivery.framesOfType('confirmation_resolved');
    expect(resolved[0].audience).toEqual({ userIds: ['alice'], exceptConnectionId: 'conn-1' });

    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as GatewayError).code;
      }
      return 'no error';
    };
    expect(codeOf(() => service.answer(confirmation.callbackId, 'alice', false, null))).toBe(ErrorCode.AlreadyResolved);
    expect(codeOf(() => service.answer('missing', 'alice', true, null))).toBe(ErrorCode.CallbackNotFound);
    const other = service.create(ask()).confirmation;
    expect(codeOf(() => service.answer(other.callbackId, 'mallory', true, null))).toBe(ErrorCode.Forbidden);
    expect(other.state).toBe('pending');
  });

  it('times out with the configured decision and closes the prompt', () => {
    const { confirmation } = service.create(ask({ timeoutSeconds: 1 }));
    jest.advanceTimersByTime(999);
    expect(confirmation.state).toBe('pending');
    jest.advanceTimersByTime(1);
    expect(confirmation).toMatchObject({ state: 'timed_out', proceed: true });
    expect(delivery.framesOfType('confirmation_resolved')[0].frame.state).toBe('timed_out');

    const strict = serviceWith({ WEBSOCKET_TIMEOUT_DECISION: 'reject' }).service;
    const c = strict.create(ask({ timeoutSeconds: 1 })).confirmation;
    jest.advanceTimersByTime(1000);
    expect(c.proceed).toBe(false);
    strict.onModuleDestroy();
  });

  it('caps a requested timeout at the configured maximum', () => {
    const capped = serviceWith({ WEBSOCKET_MAX_CALLBACK_TIMEOUT: 5 }).service;
    const c = capped.create(ask({ timeoutSeconds: 1000 })).confirmation;
    expect(c.expiresAt - c.createdAt).toBe(5000);
    capped.onModuleDestroy();
  });

  it('returns the same confirmation for a repeated callback_id and refuses it for another user', () => {
    const first = service.create(ask({ callbackId: 'cb-1' }));
    const again = service.create(ask({ callbackId: 'cb-1' }));
    expect(again).toEqual({ confirmation: first.confirmation, created: false });
    expect(delivery.framesOfType('task_step_result')).toHaveLength(1);
    expect(() => service.create(ask({ callbackId: 'cb-1', userId: 'mallory' }))).toThrow(GatewayError);
  });

  it('cancels only the user\'s pending confirmations of the task and remembers the cancellation', () => {
    const mine = service.create(ask()).confirmation;
    const otherTask = service.create(ask({ taskId: 'task-2' })).confirmation;
    const otherUser = service.create(ask({ userId: 'bob' })).confirmation;
    expect(service.cancelTask('alice', 'task-1')).toEqual([mine]);
    expect(mine).toMatchObject({ state: 'cancelled', proceed: false });
    expect(otherTask.state).toBe('pending');
    expect(otherUser.state).toBe('pending');
    expect(service.cancellationOf('alice', 'task-1')).toMatchObject({ userId: 'alice' });
    expect(service.cancellationOf('bob', 'task-1')).toBeUndefined();

    const late = service.create(ask()).confirmation;
    expect(late.state).toBe('cancelled');
    expect(delivery.sent.filter((s) => s.frame.callback_id === late.callbackId)).toHaveLength(0);
  });

  it('wakes a waiter on settlement and releases it when the caller stops waiting', async () => {
    const { confirmation } = service.create(ask());
    const waiting = service.waitForSettlement(confirmation.callbackId, 60_000);
    service.answer(confirmation.callbackId, 'alice', false, null);
    expect((await waiting)?.state).toBe('rejected');

    const pending = service.create(ask()).confirmation;
    let stop: (() => void) | undefined;
    const abandoned = service.waitForSettlement(pending.callbackId, 60_000, (stopWaiting) => (stop = stopWaiting));
    stop?.();
    expect((await abandoned)?.state).toBe('pending');
    expect(jest.getTimerCount()).toBe(2); // the retention sweep and the pending expiry; no waiter timer left
  });

  it('keeps at most CONFIRMATION_MAX_RETAINED settled confirmations, dropping the oldest first', () => {
    const small = serviceWith({ CONFIRMATION_MAX_RETAINED: 2 }).service;
    const ids = [1, 2, 3].map((n) => small.create(ask({ callbackId: `cb-${n}` })).confirmation.callbackId);
    for (const id of ids) small.answer(id, 'alice', true, null);
    expect(small.get('cb-1')).toBeUndefined();
    expect(small.get('cb-2')?.state).toBe('confirmed');
    expect(small.get('cb-3')?.state).toBe('confirmed');
    small.onModuleDestroy();
  });

  it('refuses new confirmations once shutting down, and stops waiting', async () => {
    const { confirmation } = service.create(ask());
    service.onModuleDestroy();
    expect(() => service.create(ask())).toThrow(expect.objectContaining({ code: ErrorCode.Unavailable }));
    expect((await service.waitForSettlement(confirmation.callbackId, 60_000))?.state).toBe('pending');
  });

  it('keeps the newest decisions through many settles past the cap, and forgets who took part', () => {
    const busy = serviceWith({ CONFIRMATION_MAX_RETAINED: 100 }).service;
    for (let n = 0; n < 3000; n++) {
      const id = busy.create(ask({ callbackId: `cb-${n}`, taskId: `task-${n}` })).confirmation.callbackId;
      busy.answer(id, 'alice', n % 2 === 0, null);
    }
    expect(busy.get('cb-2899')).toBeUndefined();
    expect(busy.get('cb-2900')?.state).toBe('confirmed');
    expect(busy.get('cb-2999')?.state).toBe('rejected');
    expect(busy.involves('alice', 'task-2899')).toBe(false);
    expect(busy.involves('alice', 'task-2950')).toBe(true);
    busy.onModuleDestroy();
  });

  it('forgets settled confirmations and cancellations after their retention', () => {
    const { confirmation } = service.create(ask());
    service.answer(confirmation.callbackId, 'alice', true, null);
    service.cancelTask('alice', 'task-9');
    jest.advanceTimersByTime(59_000);
    expect(service.get(confirmation.callbackId)).toBeDefined();
    jest.advanceTimersByTime(31_000);
    expect(service.get(confirmation.callbackId)).toBeUndefined();
    expect(service.cancellationOf('alice', 'task-9')).toBeUndefined();
  });
});
