import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { Cluster, startCluster } from './support/cluster.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';
import { TestClient } from './support/test-client.js';

/**
 * Ids with control characters, at every edge. Memory mode once joined (user, task) with a
 * bare newline, so a user "carol\nprod" counted as involved in task "X" when "carol" had a
 * task "prod\nX", and could follow and cancel it (issue 19.4). The store keys are
 * unambiguous now (src/common/composite-key.ts); and no id with a control character gets
 * in: REST bodies, queries and path parameters, socket frames, the upgrade's ?user_id=,
 * a token's sub.
 */

const SECRET = 'id-rules-secret-that-is-long-enough-0123456789';
const API_KEY = 'id-rules-key';
const KEY = { authorization: `Bearer ${API_KEY}` };
const CONTROL = 'must not contain control characters';

function tokenFor(sub: string): Promise<string> {
  return new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
}

/** The open socket, or why the upgrade was refused ("upgrade refused: 401 {...}"). */
async function openOrRefusal(url: string): Promise<TestClient | string> {
  try {
    const client = await TestClient.open(url);
    await client.next('connected');
    return client;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('ids with control characters (e2e, memory mode, AUTH_MODE=jwt)', () => {
  let t: TestApp;
  let alice: TestClient;

  beforeAll(async () => {
    t = await startTestApp({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, API_KEYS: API_KEY });
    alice = await TestClient.open(`${t.wsUrl}/?token=${await tokenFor('alice')}`);
    await alice.next('connected');
  });
  afterAll(async () => {
    alice?.terminate();
    await t?.close();
  });

  it("keeps a sub of \"carol\\nprod\" out of alice's task X when carol has a task \"prod\\nX\"", async () => {
    const aliceAsked = await t.http('POST', '/notify?wait=false', notifyBody('alice', 'X', { callback_id: 'alice-x' }), KEY);
    expect(aliceAsked.status).toBe(202);
    expect((await alice.request({ action: 'subscribe', task_id: 'X' }, 'subscription_confirmed')).task_id).toBe('X');
    // The attack, played through whatever the server lets happen; the verdict comes after.
    const carolAsked = await t.http('POST', '/notify?wait=false', notifyBody('carol', 'prod\nX'), KEY);
    const attacker = await openOrRefusal(`${t.wsUrl}/?token=${await tokenFor('carol\nprod')}`);
    if (attacker instanceof TestClient) {
      attacker.send({ action: 'subscribe', task_id: 'X' });
      attacker.send({ action: 'cancel', task_id: 'X' });
      await sleep(300);
      await t.http('POST', '/tasks/X/messages', { type: 'progress', secret: 'for alice only' }, KEY);
      await sleep(300);
      attacker.terminate();
    }

    expect(carolAsked.status).toBe(400);
    expect(carolAsked.body).toEqual({ statusCode: 400, code: 'invalid_message', message: `task_id ${CONTROL}` });
    expect(attacker).toBe(`upgrade refused: 401 ${JSON.stringify({ statusCode: 401, code: 'unauthorized', message: `Token sub ${CONTROL}` })}`);
    const task = await t.http('GET', '/tasks/X', undefined, KEY);
    expect(task.body).toMatchObject({ task_id: 'X', cancelled: false, cancelled_by: null });
    expect((await t.http('GET', '/confirmations/alice-x', undefined, KEY)).body.state).toBe('pending');
    expect(alice.ofType('task_cancelled')).toEqual([]);
  });

  it.each(['a\u0000', 'a\tb', 'a\u007f', 'a\u0085', 'a\u009f', 'a\u2028b', 'a\u2029'])(
    'refuses a token whose sub is %j as it refuses an invalid token (401)',
    async (sub) => {
      expect(await openOrRefusal(`${t.wsUrl}/?token=${await tokenFor(sub)}`)).toMatch(/^upgrade refused: 401 .*Token sub must not contain control characters/);
    },
  );

  it('takes a sub with invisible characters that are parts of ordinary text (joiners, bidi marks)', async () => {
    for (const sub of ['👩\u200d💻', 'user\u200c\u200d', '\u202bمستخدم\u202c']) {
      const client = await openOrRefusal(`${t.wsUrl}/?token=${await tokenFor(sub)}`);
      expect(client).toBeInstanceOf(TestClient);
      expect((client as TestClient).frames[0]).toMatchObject({ type: 'connected', user_id: sub });
      (client as TestClient).terminate();
    }
  });

  const BODIES: Array<[string, string, Record<string, unknown>, string]> = [
    ['POST', '/notify', notifyBody('a\nb', 't'), `user_id ${CONTROL}`],
    ['POST', '/notify', notifyBody('u', 'a\u0000'), `task_id ${CONTROL}`],
    ['POST', '/notify', notifyBody('u', 't', { callback_id: 'cb\n1' }), `callback_id ${CONTROL}`],
    ['POST', '/tasks/t/subscribers', { user_id: 'a\u0085' }, `user_id ${CONTROL}`],
    ['POST', '/heartbeats', { user_id: 'a\u2028', task_id: 't', interval_seconds: 5 }, `user_id ${CONTROL}`],
    ['POST', '/heartbeats', { user_id: 'u', task_id: 'a\u007f', interval_seconds: 5 }, `task_id ${CONTROL}`],
  ];

  it.each(BODIES)('answers %s %s with a control character in a body id with 400 invalid_message', async (method, path, body, message) => {
    const res = await t.http(method, path, body, KEY);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_message');
    expect(res.body.message).toContain(message);
  });

  it('answers a control character in ?user_id= of GET /connections with 400', async () => {
    const res = await t.http('GET', '/connections?user_id=a%0Ab', undefined, KEY);
    expect(res.body).toEqual({ statusCode: 400, code: 'invalid_message', message: `user_id ${CONTROL}` });
  });

  const PATHS: Array<[string, string, unknown, string]> = [
    ['GET', '/tasks/a%0Ab', undefined, 'task_id'],
    ['POST', '/tasks/a%0Ab/messages', { type: 'progress' }, 'task_id'],
    ['POST', '/tasks/a%00b/subscribers', { user_id: 'u' }, 'task_id'],
    ['DELETE', '/tasks/t/subscribers/a%0Db', undefined, 'user_id'],
    ['POST', '/users/carol%0Aprod/messages', { type: 'notice' }, 'user_id'],
    ['GET', '/confirmations/a%0Ab', undefined, 'callback_id'],
    ['GET', '/messages/a%C2%85b', undefined, 'message_id'],
    ['DELETE', '/heartbeats/a%7Fb', undefined, 'id'],
  ];

  it.each(PATHS)('answers %s %s (a control character in a path id) with 400 invalid_message', async (method, path, body, name) => {
    const res = await t.http(method, path, body, KEY);
    expect(res.body).toEqual({ statusCode: 400, code: 'invalid_message', message: `${name} ${CONTROL}` });
  });

  it('still finds ids with other characters in paths', async () => {
    const res = await t.http('POST', `/users/${encodeURIComponent('👩\u200d💻 a/b')}/messages`, { type: 'notice' }, KEY);
    expect(res).toMatchObject({ status: 200, body: { delivered: 0 } });
  });

  const FRAMES: Array<[Record<string, unknown>, string]> = [
    [{ action: 'subscribe', user_id: 'alice\n' }, 'user_id'],
    [{ action: 'subscribe', task_id: 'prod\nX' }, 'task_id'],
    [{ action: 'cancel', task_id: 'X\u0000' }, 'task_id'],
    [{ action: 'cancel', task_id: 'X', user_id: 'alice\u0085' }, 'user_id'],
    [{ action: 'confirm', callback_id: 'alice-x\r', proceed: true }, 'callback_id'],
    [{ action: 'ack', message_id: 'm\u2028' }, 'message_id'],
    [{ action: 'unsubscribe', task_id: '\u007f' }, 'task_id'],
  ];

  it.each(FRAMES)('answers %j with invalid_message naming the field', async (frame, field) => {
    const error = await alice.request(frame, 'error');
    expect(error).toMatchObject({ code: 'invalid_message', message: `${field} ${CONTROL}`, action: frame.action });
  });
});

describe('?user_id= with control characters on the upgrade (e2e, memory mode, AUTH_MODE=none)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ AUTH_MODE: 'none' });
  });
  afterAll(() => t?.close());

  it.each(['carol%0Aprod', 'a%00', 'a%09b', 'a%7F', 'a%C2%85', 'a%E2%80%A8'])('refuses ?user_id=%s with 400 invalid_message', async (id) => {
    const refusal = await openOrRefusal(`${t.wsUrl}/?user_id=${id}`);
    expect(refusal).toBe(`upgrade refused: 400 ${JSON.stringify({ statusCode: 400, code: 'invalid_message', message: `user_id ${CONTROL}` })}`);
  });

  it('takes an ordinary ?user_id=, and no user_id at all', async () => {
    expect((await t.connect('👩\u200d💻')).frames[0]).toMatchObject({ type: 'connected', user_id: '👩\u200d💻' });
    expect((await t.connect()).frames[0]).toMatchObject({ type: 'connected', user_id: null });
  });
});

describe('ids with control characters in cluster mode (e2e, built service on Redis)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1);
  }, 120_000);
  afterAll(() => cluster?.close());

  it('refuses them at the edge too: REST body, socket frame and upgrade', async () => {
    const [instance] = cluster.instances;
    const notify = await instance.http('POST', '/notify?wait=false', notifyBody('carol\nprod', 'X'));
    expect(notify.body).toEqual({ statusCode: 400, code: 'invalid_message', message: `user_id ${CONTROL}` });
    const carol = await instance.connect('carol');
    expect(await carol.request({ action: 'subscribe', task_id: 'prod\nX' }, 'error')).toMatchObject({ code: 'invalid_message', message: `task_id ${CONTROL}` });
    expect(await openOrRefusal(`${instance.wsUrl}/?user_id=carol%0Aprod`)).toMatch(/^upgrade refused: 400 /);
  });
});
