import { describe, expect, it } from '@jest/globals';
import type { Confirmation } from './confirmation.js';
import { MemoryConfirmationStore } from './memory-confirmation.store.js';

/**
 * The memory store keys "is this user in this task" and task cancellations by the
 * (user, task) pair. With the two joined by a bare newline, ("carol", "prod\nX") and
 * ("carol\nprod", "X") were one key: the second user could follow and cancel task X.
 * Ids with control characters are refused at the edge now; the keys must not rely on it.
 */

const LIMITS = { maxPendingPerUser: 100, maxPendingTotal: 1000 };

function draft(callbackId: string, userId: string, taskId: string): Confirmation {
  const now = Date.now();
  return {
    callbackId, userId, taskId, step: 1, createdAt: now, expiresAt: now + 60_000, stepName: 's', message: 'm',
    frame: null, state: 'pending', proceed: null, feedback: null, settledAt: null,
  };
}

describe('MemoryConfirmationStore keys', () => {
  const store = () => new MemoryConfirmationStore({ retentionMs: 60_000, maxRetained: 100 });

  it("does not count a user in another user's task when their ids run together", async () => {
    const confirmations = store();
    await confirmations.create(draft('cb-carol', 'carol', 'prod\nX'), LIMITS);
    await confirmations.create(draft('cb-alice', 'alice', 'X'), LIMITS);
    expect(await confirmations.involves('carol', 'prod\nX')).toBe(true);
    expect(await confirmations.involves('carol\nprod', 'X')).toBe(false);
  });

  it("keeps one pair's cancellation from another pair that reads the same when joined", async () => {
    const confirmations = store();
    await confirmations.recordCancellation({ userId: 'carol\nprod', taskId: 'X', cancelledAt: Date.now() });
    expect(await confirmations.cancellationOf('carol', 'prod\nX')).toBeUndefined();
    const outcome = await confirmations.create(draft('cb-carol', 'carol', 'prod\nX'), LIMITS);
    expect(outcome.kind === 'created' && outcome.confirmation.state).toBe('pending');
  });
});
