import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSeedBrowserClient } from './support/seed-browser-client.js';
import { notifyBody, startTestApp, TestApp } from './support/test-app.js';

describe('the design document\'s browser client (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it.each([
    [true, '同意继续'],
    [false, '取消执行'],
  ])('answers proceed=%s with its feedback, unchanged', async (proceed, feedback) => {
    const seen: string[] = [];
    const client = startSeedBrowserClient(`${t.wsUrl}/?user_id=seed-user`, (message) => {
      seen.push(message);
      return proceed;
    });
    await new Promise((resolve) => client.ws.once('open', resolve));

    const decision = await t.http('POST', '/notify', notifyBody('seed-user', 'seed-task'));
    expect(decision.body).toMatchObject({ proceed, feedback, timed_out: false });
    expect(seen).toEqual(['Validation finished with 5 errors. Continue?']);
    expect(client.received.filter((f) => f.type === 'error')).toEqual([]);
    client.stop();
  });

  it('works through the nginx-style /ws/ path', async () => {
    const client = startSeedBrowserClient(`${t.wsUrl}/ws/?user_id=seed-2`, () => true);
    await new Promise((resolve) => client.ws.once('open', resolve));
    const decision = await t.http('POST', '/notify', notifyBody('seed-2', 'seed-task'));
    expect(decision.body.proceed).toBe(true);
    client.stop();
  });
});
