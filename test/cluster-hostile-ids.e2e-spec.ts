import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, startCluster } from './support/cluster.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

/**
 * Ids are parts of Redis keys and channels in cluster mode. Ids built from the key syntax
 * (`:` separators, `{…}` hash tags, `*` patterns, `%` escapes) or carrying a newline must stay
 * one user's, one task's, one confirmation's: nothing reaches the victims, two of which have
 * such ids themselves, next to storm ids that spell their escaped forms (`vic%3a` for `vic:`).
 * Control characters may instead be refused at the edge (400); anything else must work.
 */
const KEY_SYNTAX = [':vic', 'vic:*', '*', 'v*c', 'vic}', '{', '}', 'u:vic', 'cgw:u:vic', '{vic}:*', 'vic%3a', 'vic%3A', '%7bvic%7d', '%vic'];
const WITH_NEWLINE = ['vic\n', '\nvic', 'vic\r\n*'];
const VICTIMS = ['vic', 'vic:', '{vic}'];
const CONTROL = /[\u0000-\u001f]/;

(haveRedis ? describe : describe.skip)('hostile ids in cluster mode (two instances, real Redis)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(2);
  }, 60_000);
  afterAll(() => cluster?.close());

  it('ids with : { } * % or a newline reach no other user: each victim keeps its prompt and gets nothing else', async () => {
    const [a, b] = cluster.instances;
    const victims = [];
    for (const [i, user] of VICTIMS.entries()) {
      const tab = await a.connect(user);
      const callbackId = `victim-${i}`;
      expect((await a.http('POST', '/notify?wait=false', notifyBody(user, `victim-task-${i}`, { callback_id: callbackId }))).status).toBe(202);
      expect(await tab.next('task_step_result')).toMatchObject({ callback_id: callbackId });
      victims.push({ user, tab, callbackId, before: (await b.http('GET', `/confirmations/${callbackId}`)).body });
    }

    const wrong: string[] = [];
    for (const [i, id] of [...KEY_SYNTAX, ...WITH_NEWLINE].entries()) {
      const shown = JSON.stringify(id);
      const path = encodeURIComponent(id);
      // callback_id allows only letters, digits and . _ : - (PROTOCOL): the others get their own.
      const callbackId = /^[A-Za-z0-9._:-]+$/.test(id) ? id : `hostile-${i}`;
      const asked = await a.http('POST', '/notify?wait=false', notifyBody(id, id, { callback_id: callbackId }));
      if (CONTROL.test(id) && asked.status === 400) continue; // refused at the edge
      if (asked.status !== 202) {
        wrong.push(`${shown}: POST /notify ${asked.status} ${JSON.stringify(asked.body)}`);
        continue;
      }
      const tab = await b.connect(id).catch((err: Error) => err);
      if (tab instanceof Error) {
        wrong.push(`${shown}: accepted by /notify, but its user cannot connect: ${tab.message}`);
        continue;
      }
      expect({ [shown]: await tab.next('task_step_result') }).toMatchObject({ [shown]: { callback_id: callbackId, user_id: id, task_id: id } });
      const accepted = await tab.request({ action: 'confirm', callback_id: callbackId, proceed: true, feedback: id }, 'confirmation_accepted');
      expect({ [shown]: accepted }).toMatchObject({ [shown]: { callback_id: callbackId } });
      const record = (await a.http('GET', `/confirmations/${encodeURIComponent(callbackId)}`)).body;
      expect({ [shown]: record }).toMatchObject({ [shown]: { callback_id: callbackId, user_id: id, task_id: id, state: 'confirmed', feedback: id } });
      const sent = await a.http('POST', `/users/${path}/messages`, { type: 'personal_notification', message: id });
      expect({ [shown]: sent.body }).toMatchObject({ [shown]: { delivered: 1 } });
      expect({ [shown]: await tab.next('personal_notification') }).toMatchObject({ [shown]: { message: id } });
      expect({ [shown]: await tab.request({ action: 'cancel', task_id: id }, 'task_cancelled') }).toMatchObject({ [shown]: { task_id: id } });
      tab.terminate();
    }
    expect(wrong).toEqual([]);

    // Each victim's confirmation is as it was, and a message sent to it now is the first
    // message it gets: nothing of the storm's came before.
    for (const { user, tab, callbackId, before } of victims) {
      expect((await b.http('GET', `/confirmations/${callbackId}`)).body).toEqual(before);
      await b.http('POST', `/users/${encodeURIComponent(user)}/messages`, { type: 'personal_notification', message: 'yours' });
      expect({ [user]: await tab.next('personal_notification') }).toMatchObject({ [user]: { message: 'yours', target_user_id: user } });
      expect({ [user]: tab.ofType('personal_notification').length }).toEqual({ [user]: 1 });
      expect({ [user]: tab.ofType('task_step_result').map((f) => f.callback_id) }).toEqual({ [user]: [callbackId] });
      expect({ [user]: [...tab.ofType('task_cancelled'), ...tab.ofType('confirmation_resolved')] }).toEqual({ [user]: [] });
      expect({ [user]: (await a.http('GET', `/connections?user_id=${encodeURIComponent(user)}`)).body.count }).toEqual({ [user]: 1 });
    }
  }, 60_000);
});
