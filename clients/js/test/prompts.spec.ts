import { describe, expect, it } from '@jest/globals';
import { ApprovalRefusedError, GatewayRequestError, InvalidAnswerError, type TaskStepResultFrame } from '../dist/index.js';
import { requestErrorOf } from '../dist/errors.js';
import { PromptBook, type AnswerInput, type PromptReminder, type PromptResolution, type PromptVote } from '../dist/prompts.js';

function frame(callbackId: string, extra: Partial<TaskStepResultFrame> = {}): TaskStepResultFrame {
  return {
    type: 'task_step_result', callback_id: callbackId, step: 1, step_name: 'deploy', message: 'Deploy?', result: null, status: 'completed',
    completed: true, error_code: null, error_message: null, user_id: 'ann', task_id: 'task-1', timestamp: 1, expires_at: 100, ...extra,
  };
}

function book() {
  const seen = { added: [] as string[], resolved: [] as PromptResolution[], votes: [] as PromptVote[], reminders: [] as PromptReminder[], sent: [] as Array<[string, AnswerInput]> };
  const prompts = new PromptBook(
    {
      added: (prompt) => seen.added.push(prompt.callback_id),
      resolved: (resolution) => seen.resolved.push(resolution),
      vote: (vote) => seen.votes.push(vote),
      reminder: (reminder) => seen.reminders.push(reminder),
    },
    async (callbackId, input) => {
      seen.sent.push([callbackId, input]);
      return { type: 'confirmation_accepted', callback_id: callbackId, proceed: input.proceed ?? false, feedback: input.feedback ?? null, timestamp: 2 };
    },
  );
  prompts.userId = () => 'ann';
  return { prompts, seen };
}

const OPTIONS = [{ id: 'ship', label: 'Ship it', proceed: true }, { id: 'hold', label: 'Hold', proceed: false }];

describe('the SDK prompt book with approvals (no server)', () => {
  it('takes both answer forms: (proceed, feedback) as before, and { option, data, feedback }', async () => {
    const { prompts, seen } = book();
    prompts.onStepResult(frame('a', { options: OPTIONS }));
    const prompt = prompts.get('a')!;
    expect(prompt.option('hold')).toEqual(OPTIONS[1]);
    await prompt.answer(true, 'go');
    await prompt.answer({ option: 'ship', data: { replicas: 5 } });
    expect(seen.sent).toEqual([['a', { proceed: true, feedback: 'go' }], ['a', { option: 'ship', data: { replicas: 5 } }]]);
  });

  it('keeps the votes live on the frozen prompt, and a vote leaves it pending until resolved', () => {
    const { prompts, seen } = book();
    prompts.onStepResult(frame('q', { policy: 'quorum', quorum: 2, approvers: { users: ['ann', 'bob', 'cy'] } }));
    const prompt = prompts.get('q')!;
    expect(Object.isFrozen(prompt)).toBe(true);
    expect([prompt.votes, prompt.needed, prompt.voted]).toEqual([[], undefined, false]);

    const votes = [{ user_id: 'bob', proceed: true, option: null, at: 3 }];
    prompts.onVote({ type: 'confirmation_vote', callback_id: 'q', task_id: 'task-1', votes, policy: 'quorum', quorum: 2, needed: 1, timestamp: 3 });
    expect([prompt.votes, prompt.needed]).toEqual([votes, 1]);
    expect(seen.votes).toMatchObject([{ needed: 1, votes }]);

    prompts.onAccepted({ type: 'confirmation_accepted', callback_id: 'q', proceed: true, feedback: null, timestamp: 4 });
    expect(prompt.voted).toBe(true);
    expect(prompts.list()).toHaveLength(1);
    prompts.onResolved({ type: 'confirmation_resolved', callback_id: 'q', task_id: 'task-1', state: 'confirmed', proceed: true, timestamp: 5, option: null, decided_by: 'ann' });
    expect(prompts.list()).toEqual([]);
    expect(seen.resolved).toMatchObject([{ by: 'here', state: 'confirmed', decided_by: 'ann' }]);
  });

  it('reports a reminder of a known prompt once as a reminder, not as a new prompt', () => {
    const { prompts, seen } = book();
    prompts.onStepResult(frame('r'));
    prompts.onStepResult(frame('r', { reminder: 1 }));
    prompts.onStepResult(frame('r', { reminder: 1 })); // the same reminder re-sent after a reconnect
    prompts.onStepResult(frame('r', { reminder: 2 }));
    expect(seen.added).toEqual(['r']);
    expect(seen.reminders.map((r) => r.reminder)).toEqual([1, 2]);
    expect(prompts.get('r')!.reminder).toBe(2);
  });

  it('makes typed errors of error frames: invalid_answer with its field, approver refusals, the rest as before', () => {
    const invalid = requestErrorOf('invalid_answer', 'must be <= 10', 'confirm', 'replicas');
    expect(invalid).toBeInstanceOf(InvalidAnswerError);
    expect(invalid).toBeInstanceOf(GatewayRequestError);
    expect(invalid).toMatchObject({ code: 'invalid_answer', field: 'replicas', message: 'must be <= 10', action: 'confirm' });
    expect(requestErrorOf('already_voted', 'no', 'confirm')).toBeInstanceOf(ApprovalRefusedError);
    const other = requestErrorOf('forbidden', 'not yours', 'cancel');
    expect(other.constructor).toBe(GatewayRequestError);
    expect(other.field).toBeUndefined();
  });
});
