import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { notifyBody, startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { ApprovalRefusedError, GatewayRequestError, InvalidAnswerError, type GatewayClient, type Prompt, type PromptVote } from '../dist/index.js';
import { startClient } from './support/sdk-helpers.js';

const started: GatewayClient[] = [];
function client(wsUrl: string, userId: string) {
  const made = startClient(wsUrl, { userId });
  started.push(made.client);
  return made;
}

afterEach(() => {
  for (const c of started.splice(0)) c.disconnect();
});

const OPTIONS = [
  { id: 'ship', label: 'Ship it', proceed: true },
  { id: 'hold', label: 'Hold', description: 'Wait for Monday', proceed: false },
];
const FORM = {
  type: 'object',
  properties: {
    replicas: { type: 'integer', minimum: 1, maximum: 10, default: 3 },
    region: { type: 'string', enum: ['eu', 'us'], default: 'eu' },
  },
  required: ['replicas'],
};

describe('SDK approvals against the real service', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers with an option and edited form data; the old answer(proceed, feedback) form still works', async () => {
    const { client: ada, events } = client(t.wsUrl, 'ada');
    await events.connected();
    const decision = t.http('POST', '/notify', notifyBody('ada', 'task-a', { callback_id: 'sdk-opt-1', options: OPTIONS, form: FORM }));
    const prompt = (await events.waitFor('prompt')) as Prompt;
    expect(prompt.options).toEqual(OPTIONS);
    expect(prompt.form).toEqual(FORM);
    expect(prompt.option('hold')).toEqual(OPTIONS[1]);

    const accepted = await prompt.answer({ option: 'ship', data: { replicas: 5, region: 'us' }, feedback: 'go' });
    expect(accepted).toMatchObject({ callback_id: 'sdk-opt-1', proceed: true, feedback: 'go' });
    expect((await decision).body).toMatchObject({ state: 'confirmed', proceed: true, option: 'ship', data: { replicas: 5, region: 'us' }, decided_by: 'ada' });
    expect(events.all('promptResolved')).toMatchObject([{ by: 'here', state: 'confirmed', option: 'ship' }]);
    expect(ada.pendingPrompts()).toEqual([]);

    // An option whose proceed is false declines, without data.
    const declined = t.http('POST', '/notify', notifyBody('ada', 'task-a', { callback_id: 'sdk-opt-2', options: OPTIONS }));
    const second = (await events.waitFor('prompt', (p) => p.callback_id === 'sdk-opt-2')) as Prompt;
    await expect(second.answer({ option: 'hold' })).resolves.toMatchObject({ proceed: false });
    expect((await declined).body).toMatchObject({ state: 'rejected', proceed: false, option: 'hold', data: null });

    const plain = t.http('POST', '/notify', notifyBody('ada', 'task-a', { callback_id: 'sdk-plain' }));
    const third = (await events.waitFor('prompt', (p) => p.callback_id === 'sdk-plain')) as Prompt;
    await third.answer(true, 'as before');
    const plainDecision = (await plain).body;
    expect(plainDecision).toMatchObject({ proceed: true, feedback: 'as before' });
    // A plain confirmation's decision is what it was before approvals: no new fields.
    for (const field of ['option', 'data', 'decided_by', 'votes']) expect(plainDecision).not.toHaveProperty(field);
  });

  it('surfaces a refused form answer as an InvalidAnswerError naming the field, and the prompt stays pending', async () => {
    const { client: ben, events } = client(t.wsUrl, 'ben');
    await events.connected();
    const decision = t.http('POST', '/notify', notifyBody('ben', 'task-b', { callback_id: 'sdk-form-bad', form: FORM }));
    const prompt = (await events.waitFor('prompt')) as Prompt;

    const refused = prompt.answer({ proceed: true, data: { replicas: 11, region: 'eu' } });
    await expect(refused).rejects.toBeInstanceOf(InvalidAnswerError);
    await expect(refused).rejects.toMatchObject({ code: 'invalid_answer', field: 'replicas', action: 'confirm' });
    await expect(prompt.answer({ option: 'nope' })).rejects.toMatchObject({ code: 'invalid_answer' });
    expect(ben.pendingPrompts().map((p) => p.callback_id)).toEqual(['sdk-form-bad']);

    await prompt.answer({ proceed: true, data: { replicas: 10 } });
    expect((await decision).body).toMatchObject({ state: 'confirmed', data: { replicas: 10 } });
  });

  it('a quorum of two: the first vote reaches the other approver with the votes so far, the second settles', async () => {
    const cat = client(t.wsUrl, 'cat');
    const dan = client(t.wsUrl, 'dan');
    const eve = client(t.wsUrl, 'eve');
    await Promise.all([cat.events.connected(), dan.events.connected(), eve.events.connected()]);
    const body = notifyBody('owner', 'task-q', { callback_id: 'sdk-quorum', approvers: { users: ['cat', 'dan', 'fay'] }, policy: 'quorum', quorum: 2 });
    const decision = t.http('POST', '/notify', body);
    const atCat = (await cat.events.waitFor('prompt')) as Prompt;
    const atDan = (await dan.events.waitFor('prompt')) as Prompt;
    expect(atDan).toMatchObject({ policy: 'quorum', quorum: 2, votes: [] });

    await atCat.answer(true);
    const vote = (await dan.events.waitFor('vote')) as PromptVote;
    expect(vote.needed).toBe(1);
    expect(vote.votes).toMatchObject([{ user_id: 'cat', proceed: true }]);
    expect(atDan.votes).toMatchObject([{ user_id: 'cat', proceed: true }]);
    expect(atCat.voted).toBe(true);
    expect(cat.client.pendingPrompts()).toHaveLength(1); // still pending until the quorum

    const again = atCat.answer(true);
    await expect(again).rejects.toBeInstanceOf(ApprovalRefusedError);
    await expect(again).rejects.toMatchObject({ code: 'already_voted' });
    await expect(eve.client.answer('sdk-quorum', true)).rejects.toMatchObject({ code: 'not_an_approver' });

    await atDan.answer(true);
    expect((await decision).body).toMatchObject({ state: 'confirmed', decided_by: 'dan', votes: [{ user_id: 'cat' }, { user_id: 'dan' }] });
    expect(await cat.events.waitFor('promptResolved')).toMatchObject({ by: 'elsewhere', state: 'confirmed', decided_by: 'dan' });
    expect(await dan.events.waitFor('promptResolved')).toMatchObject({ state: 'confirmed', decided_by: 'dan' });
  });

  it('reports a reminder as a reminder event on the prompt it reminds of, not as a new prompt', async () => {
    const { client: ida, events } = client(t.wsUrl, 'ida');
    await events.connected();
    const decision = t.http('POST', '/notify', notifyBody('ida', 'task-r', { callback_id: 'sdk-reminder', reminders: { every_seconds: 1, max: 2 }, timeout_seconds: 30 }));
    const prompt = (await events.waitFor('prompt')) as Prompt;
    expect(prompt.reminder).toBeUndefined();
    const first = await events.waitFor('reminder', () => true, 5000);
    expect(first).toMatchObject({ reminder: 1 });
    expect(first.prompt).toBe(prompt);
    expect(prompt.reminder).toBe(1);
    await events.waitFor('reminder', (r) => r.reminder === 2, 5000);
    expect(events.all('prompt')).toHaveLength(1);
    expect(ida.pendingPrompts()).toHaveLength(1);
    await prompt.answer(false);
    expect((await decision).body).toMatchObject({ state: 'rejected' });
  });

  it('refuses the requester under forbid_self with a typed error', async () => {
    const gus = client(t.wsUrl, 'gus');
    await gus.events.connected();
    const body = notifyBody('gus', 'task-s', { callback_id: 'sdk-self', approvers: { users: ['gus', 'hal'] }, forbid_self: true, requested_by: 'gus', timeout_seconds: 30 });
    void t.http('POST', '/notify?wait=false', body);
    const prompt = (await gus.events.waitFor('prompt')) as Prompt;
    const refused = prompt.answer(true);
    await expect(refused).rejects.toBeInstanceOf(GatewayRequestError);
    await expect(refused).rejects.toMatchObject({ code: 'self_approval_forbidden' });
  });
});
