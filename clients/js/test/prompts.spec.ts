import { describe, expect, it } from '@jest/globals';
import { ApprovalRefusedError, GatewayRequestError, InvalidAnswerError, type TaskStepResultFrame } from '../dist/index.js';
import { requestErrorOf } from '../dist/errors.js';
import { outcomeOf, PromptBook, VOTE_SETTLE_GRACE_MS, type AnswerInput, type PromptReminder, type PromptResolution, type PromptVote } from '../dist/prompts.js';

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

  const QUORUM = { policy: 'quorum' as const, quorum: 2, approvers: { users: ['ann', 'bob', 'cy'] } };
  const accepted = (proceed = true) => ({ type: 'confirmation_accepted' as const, callback_id: 'q', proceed, feedback: null, timestamp: 4 });
  const voteFrame = (votes: Array<{ user_id: string; proceed: boolean }>, needed: number) => ({
    type: 'confirmation_vote' as const, callback_id: 'q', task_id: 'task-1', votes: votes.map((v) => ({ ...v, option: null, at: 3 })), policy: 'quorum' as const, quorum: 2, needed, timestamp: 3,
  });

  it('keeps the votes live on the frozen prompt; a vote that does not settle leaves it pending until resolved', () => {
    const { prompts, seen } = book();
    prompts.onStepResult(frame('q', QUORUM));
    const prompt = prompts.get('q')!;
    expect(Object.isFrozen(prompt)).toBe(true);
    expect([prompt.votes, prompt.needed, prompt.voted]).toEqual([[], undefined, false]);

    // The server tells the voter too, before its confirmation_accepted.
    prompts.onVote(voteFrame([{ user_id: 'ann', proceed: true }], 1));
    expect([prompt.votes.map((v) => v.user_id), prompt.needed]).toEqual([['ann'], 1]);
    expect(seen.votes).toMatchObject([{ needed: 1 }]);
    prompts.onAccepted(accepted());
    expect(prompt.voted).toBe(true);
    expect(prompts.list()).toHaveLength(1);

    prompts.onResolved({ type: 'confirmation_resolved', callback_id: 'q', task_id: 'task-1', state: 'confirmed', proceed: true, timestamp: 5, option: null, decided_by: 'bob' });
    expect(prompts.list()).toEqual([]);
    expect(seen.resolved).toMatchObject([{ by: 'elsewhere', state: 'confirmed', decided_by: 'bob' }]);
  });

  it('takes a vote that reaches the quorum as settled here (the server sends that connection no confirmation_resolved)', () => {
    const { prompts, seen } = book();
    prompts.onStepResult(frame('q', QUORUM));
    prompts.onVote(voteFrame([{ user_id: 'bob', proceed: true }], 1));
    prompts.onAccepted(accepted());
    expect(prompts.list()).toEqual([]);
    expect(seen.resolved).toMatchObject([{ by: 'here', state: 'confirmed', proceed: true, decided_by: 'ann' }]);
  });

  it('waits a moment for word of its vote, then takes it as the one that settled the prompt', async () => {
    const { prompts, seen } = book();
    prompts.onStepResult(frame('q', QUORUM));
    prompts.onAccepted(accepted(false)); // bob's vote, unknown here, may have come first
    expect(prompts.list()).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, VOTE_SETTLE_GRACE_MS + 200));
    expect(prompts.list()).toEqual([]);
    expect(seen.resolved).toMatchObject([{ by: 'here', state: 'rejected', proceed: false }]);
  });

  it('decides like the server: all needs every listed user, one rejection rejects; quorum rejects when k is out of reach', () => {
    const all = { policy: 'all' as const, approvers: { users: ['a', 'b'] } };
    const yes = (user_id: string) => ({ user_id, proceed: true, option: null, at: 1 });
    const no = (user_id: string) => ({ user_id, proceed: false, option: null, at: 1 });
    expect(outcomeOf(all, [yes('a')])).toBeNull();
    expect(outcomeOf(all, [yes('a'), yes('b')])).toBe('confirmed');
    expect(outcomeOf(all, [no('a')])).toBe('rejected');
    expect(outcomeOf(QUORUM, [no('a')])).toBeNull();
    expect(outcomeOf(QUORUM, [no('a'), no('b')])).toBe('rejected');
    expect(outcomeOf({ ...QUORUM, approvers: { users: ['a', 'b', 'c'], groups: ['ops'] } }, [no('a'), no('b')])).toBeNull();
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
