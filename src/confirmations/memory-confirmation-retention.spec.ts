import { describe, expect, it } from '@jest/globals';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Confirmation } from './confirmation.js';
import { MemoryConfirmationStore } from './memory-confirmation.store.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const LIMITS = { maxPendingPerUser: 1000, maxPendingTotal: 100_000 };
const DECISIONS = 20_000;

/** A pending confirmation as a request makes it: every string parsed afresh from its body. */
function parsedDraft(i: number): Confirmation {
  const body = JSON.stringify({ user: `user-${String(i % 20).padStart(12, '0')}`, task: `task-of-user-${i % 20}-with-a-longer-id`, step: 'data_validation_and_cleanup' });
  const { user, task, step } = JSON.parse(body) as { user: string; task: string; step: string };
  const now = Date.now();
  return {
    callbackId: `cb-${i}`, userId: user, taskId: task, step: i, createdAt: now, expiresAt: now + 60_000, stepName: step, message: 'ok?',
    frame: null, state: 'pending', proceed: null, feedback: null, settledAt: null,
  };
}

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * A settled confirmation stays readable for CONFIRMATION_RETENTION_SECONDS; what it keeps
 * is the cost of every decision of the last hour. Decisions of the same user and task
 * share those ids and the step name instead of each keeping its request's copies.
 */
describe('MemoryConfirmationStore retained decisions', () => {
  it('keeps a settled decision in under 300 bytes of heap when its user, task and step repeat', async () => {
    const store = new MemoryConfirmationStore({ retentionMs: 3_600_000, maxRetained: 100_000 });
    const before = heapAfterGc();
    for (let i = 0; i < DECISIONS; i++) {
      const draft = parsedDraft(i);
      await store.create(draft, LIMITS);
      await store.settle(draft.userId, draft.callbackId, { state: 'confirmed', proceed: true, feedback: null, settledAt: Date.now() });
    }
    const perDecision = (heapAfterGc() - before) / DECISIONS;
    expect(perDecision).toBeLessThan(300);
    expect((await store.get('cb-7'))?.userId).toBe('user-000000000007');
  });
});
