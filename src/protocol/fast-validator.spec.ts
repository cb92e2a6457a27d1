import { describe, expect, it } from '@jest/globals';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { NotifyRequestDto } from '../notify/dto/notify-request.dto.js';
import { HeartbeatRequestDto } from '../tasks/dto/heartbeat-request.dto.js';
import { CancelFrame, ConfirmFrame, SubscribeFrame } from './client-frames.js';
import { NOT_SURE, validateFast } from './fast-validator.js';

const stepResult = { step: 'validate', message: 'ok?', status: 'completed' };
const samples: Array<[Function, unknown]> = [
  [NotifyRequestDto, { user_id: 'u', task_id: 't', step: 1, step_result: stepResult }],
  [NotifyRequestDto, { user_id: 'u', task_id: 't', step: 1, step_result: { ...stepResult, result: { a: [1] }, completed: true, error_code: null }, timeout_seconds: 2, callback_id: 'a.b:c-d_e', extra: 1 }],
  [NotifyRequestDto, { user_id: 'u', task_id: 't', step: 1.5, step_result: stepResult }],
  [NotifyRequestDto, { user_id: '', task_id: 't', step: 1, step_result: stepResult }],
  [NotifyRequestDto, { user_id: 'u', task_id: 't', step: 1, step_result: null }],
  [NotifyRequestDto, { user_id: 'u', task_id: 't', step: 1, step_result: [] }],
  [NotifyRequestDto, { user_id: 'u', task_id: 't', step: 1, step_result: stepResult, timeout_seconds: null }],
  [NotifyRequestDto, { user_id: 'u', task_id: 't', step: 1, step_result: stepResult, timeout_seconds: Infinity }],
  [NotifyRequestDto, { user_id: 'u', task_id: 't', step: 1, step_result: stepResult, callback_id: 'has space' }],
  [NotifyRequestDto, { user_id: '\ufe0f', task_id: 't', step: 1, step_result: stepResult }],
  [NotifyRequestDto, { user_id: '😀'.repeat(200), task_id: 't', step: 1, step_result: stepResult }],
  [NotifyRequestDto, { user_id: 'x'.repeat(257), task_id: 't', step: 1, step_result: stepResult }],
  [ConfirmFrame, { action: 'confirm', callback_id: 'c', proceed: true, feedback: 'fine' }],
  [ConfirmFrame, { action: 'confirm', callback_id: 'c', proceed: null }],
  [ConfirmFrame, { action: 'confirm', callback_id: 'c', proceed: 'yes' }],
  [ConfirmFrame, { action: 'confirm', callback_id: 7 }],
  [CancelFrame, { action: 'cancel', task_id: 't', user_id: 'u' }],
  [CancelFrame, { action: 'cancel' }],
  [SubscribeFrame, { action: 'subscribe' }],
  [SubscribeFrame, { action: 'subscribe', user_id: 'u', task_id: ['t'] }],
  [HeartbeatRequestDto, { user_id: 'u', task_id: 't', interval_seconds: 5 }],
  [HeartbeatRequestDto, { user_id: 'u', task_id: 't', interval_seconds: 5, duration_seconds: null }],
  [HeartbeatRequestDto, { user_id: 'u', task_id: 't', interval_seconds: 99999 }],
];

describe('validateFast', () => {
  it.each(samples.map((s, i) => [i, ...s] as const))('sample %i agrees with class-validator', (_i, metatype, input) => {
    const reference = plainToInstance(metatype as never, input as object) as object;
    const errors = validateSync(reference, { whitelist: true, forbidUnknownValues: false });
    const fast = validateFast(metatype, input);
    if (fast === NOT_SURE) return; // class-validator decides; nothing to compare
    expect(errors).toEqual([]);
    expect(fast).toBeInstanceOf(metatype);
    expect(JSON.parse(JSON.stringify(fast))).toEqual(JSON.parse(JSON.stringify(reference)));
  });

  it('answers the valid common cases itself', () => {
    expect(validateFast(NotifyRequestDto, samples[0][1])).not.toBe(NOT_SURE);
    expect(validateFast(ConfirmFrame, samples[12][1])).not.toBe(NOT_SURE);
  });

  it('drops unknown fields, as the whitelist does', () => {
    const fast = validateFast(NotifyRequestDto, samples[1][1]) as Record<string, unknown>;
    expect(fast).not.toHaveProperty('extra');
  });
});
