import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GrantStore, MAX_GRANTS } from '../src/tasks/grant.store.js';
import { HeartbeatService, MAX_HEARTBEATS } from '../src/tasks/heartbeat.service.js';
import { startTestApp, TestApp } from './support/test-app.js';

/**
 * The fixed caps of one instance: MAX_HEARTBEATS running heartbeats and MAX_GRANTS held task
 * grants. At the cap the REST call answers 429 capacity_exceeded with Retry-After, and the
 * refusal lasts only as long as the cap is reached. The caps are filled through the services
 * (tens of thousands of REST calls would take minutes); the refusals are real HTTP.
 */
describe('capacity caps (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it(`refuses heartbeat number ${MAX_HEARTBEATS + 1} with 429 capacity_exceeded and Retry-After, and takes one again once a slot is free`, async () => {
    const heartbeats = t.app.get(HeartbeatService);
    const started = [];
    for (let i = 0; i < MAX_HEARTBEATS; i++) {
      started.push(await heartbeats.start({ userId: 'cap-user', taskId: `cap-hb-${i}`, intervalSeconds: 3600 }));
    }
    const refused = await t.http('POST', '/heartbeats', { user_id: 'cap-user', task_id: 'one-too-many', interval_seconds: 10 });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'capacity_exceeded' });
    expect(refused.headers.get('retry-after')).toBe('5');

    expect((await t.http('DELETE', `/heartbeats/${started[0].id}`)).status).toBe(204);
    const accepted = await t.http('POST', '/heartbeats', { user_id: 'cap-user', task_id: 'one-too-many', interval_seconds: 10 });
    expect(accepted.status).toBe(201);
    for (const heartbeat of started.slice(1)) await heartbeats.stop(heartbeat.id);
  }, 60_000);

  it(`refuses grant number ${MAX_GRANTS + 1} with 429 capacity_exceeded and Retry-After, and takes one again once a grant is revoked`, async () => {
    const grants = t.app.get(GrantStore);
    const until = Date.now() + 3_600_000;
    for (let i = 0; i < MAX_GRANTS; i++) await grants.grant(`cap-task-${i}`, 'cap-user', until);
    const refused = await t.http('POST', '/tasks/one-too-many/subscribers', { user_id: 'cap-user' });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'capacity_exceeded' });
    expect(refused.headers.get('retry-after')).toBe('5');
    // Renewing a grant already held is no new grant: still accepted at the cap.
    expect((await t.http('POST', '/tasks/cap-task-7/subscribers', { user_id: 'cap-user' })).status).toBe(201);

    expect((await t.http('DELETE', '/tasks/cap-task-0/subscribers/cap-user')).status).toBe(204);
    expect((await t.http('POST', '/tasks/one-too-many/subscribers', { user_id: 'cap-user' })).status).toBe(201);
  }, 60_000);
});
