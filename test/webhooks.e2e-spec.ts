import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Cluster, startCluster } from './support/cluster.js';
import { ServiceInstance, waitFor } from './support/processes.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

/**
 * Decision webhooks end to end (docs/WEBHOOKS.md): a real receiver on 127.0.0.1 checks
 * every signature with the reference Standard Webhooks library, with each of the two
 * secrets of a rotation. Memory mode in process; cluster mode on three instances of the
 * built service and a redis-server with an append-only file, killed and restarted.
 */
const secret = () => `whsec_${randomBytes(32).toString('base64')}`;
const SECRETS = [secret(), secret()];
const WEBHOOK_ENV = { WEBHOOK_SECRETS: SECRETS.join(','), WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_TIMEOUT_MS: '1000' };

/** Asks with a short timeout: the decision (timed_out) comes by itself. */
const timingOut = (user: string, task: string, extra: Record<string, unknown>) => notifyBody(user, task, { timeout_seconds: 0.2, ...extra });

describe('webhooks in memory mode', () => {
  let app: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    app = await startTestApp(WEBHOOK_ENV);
  });
  afterAll(async () => {
    await app.close();
  });
  afterEach(async () => {
    await receiver?.close();
  });

  it('sends the decision once, signed with both secrets, with the metadata echoed; lists the attempt', async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    const metadata = { run: 'r-7', nested: { n: [1, 2, 3], ok: true }, text: 'ünïcode "q"' };
    const tab = await app.connect('alice');
    const asked = await app.http('POST', '/notify?wait=false', notifyBody('alice', 'task-1', { callback_id: 'wh-1', callback_url: receiver.url(), metadata }));
    expect(asked.status).toBe(202);
    await tab.next('task_step_result');
    tab.send({ action: 'confirm', callback_id: 'wh-1', proceed: true, feedback: 'go on' });
    const [webhook] = await receiver.waitFor(1);
    expect(webhook.verified).toBe(true);
    expect(webhook.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(webhook.headers['webhook-id']).toMatch(/^msg_[A-Za-z0-9_-]{32}$/);
    expect(webhook.headers['content-type']).toBe('application/json');
    expect(webhook.payload).toMatchObject({
      type: 'decision',
      data: { callback_id: 'wh-1', user_id: 'alice', task_id: 'task-1', state: 'confirmed', proceed: true, feedback: 'go on', timed_out: false, cancelled: false, metadata },
    });
    expect(new Date(webhook.payload.timestamp).getTime()).toBeGreaterThan(Date.now() - 10_000);
    await sleep(1200);
    expect(receiver.received).toHaveLength(1);
    const view = await app.http('GET', '/confirmations/wh-1');
    expect(view.body.metadata).toEqual(metadata);
    const deliveries = await app.http('GET', '/confirmations/wh-1/deliveries');
    expect(deliveries.status).toBe(200);
    expect(deliveries.body).toEqual({
      callback_id: 'wh-1',
      attempts: [{ webhook_id: webhook.headers['webhook-id'], event: 'decision', attempt: 1, at: expect.any(Number), status_code: 204, error: null, latency_ms: expect.any(Number), outcome: 'delivered', next_attempt_at: null }],
    });
    const metrics = (await app.http('GET', '/metrics')).body as string;
    expect(metrics).toMatch(/gateway_webhook_attempts_total\{outcome="delivered"\} [1-9]/);
    expect(metrics).toMatch(/gateway_webhook_latency_seconds_count [1-9]/);
    expect(metrics).toMatch(/gateway_webhook_queue_depth 0/);
  });

  it("an approval's decision webhook carries what the caller's decision does: the option, the form data, who decided, the votes", async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    const tab = await app.connect('alice');
    const options = [{ id: 'retry_small', label: 'Retry with a smaller batch', proceed: true }, { id: 'stop', label: 'Stop', proceed: false }];
    const form = { type: 'object', properties: { batch_size: { type: 'integer', minimum: 1, maximum: 500, default: 100 } }, required: ['batch_size'] };
    await app.http('POST', '/notify?wait=false', notifyBody('alice', 'task-opt', { callback_id: 'wh-opt', callback_url: receiver.url(), options, form }));
    await tab.next('task_step_result');
    tab.send({ action: 'confirm', callback_id: 'wh-opt', option: 'retry_small', data: { batch_size: 50 } });
    const [webhook] = await receiver.waitFor(1);
    expect(webhook.verified).toBe(true);
    const decision = (await app.http('GET', '/confirmations/wh-opt')).body;
    expect(webhook.payload.data).toMatchObject({ callback_id: 'wh-opt', state: 'confirmed', proceed: true, option: 'retry_small', data: { batch_size: 50 }, decided_by: 'alice' });
    expect(webhook.payload.data.votes).toEqual(decision.votes);
  });

  it('tells a bridge when nobody answers: reminder_due for each reminder, escalated for each step, then the decision', async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    const body = notifyBody('alice', 'task-late', {
      callback_id: 'wh-late',
      callback_url: receiver.url(),
      metadata: { thread: 'ops-7' },
      approvers: { users: ['alice'] },
      reminders: { every_seconds: 1, max: 2 },
      escalation: [{ after_seconds: 1.5, users: ['bob'] }],
    });
    await app.http('POST', '/notify?wait=false', body);
    const firstThree = await receiver.waitFor(3);
    const bob = await app.connect('bob');
    await bob.next('task_step_result');
    bob.send({ action: 'confirm', callback_id: 'wh-late', proceed: true });
    const all = await receiver.waitFor(4);
    expect(all.every((webhook) => webhook.verified)).toBe(true);
    const types = all.map((webhook) => webhook.payload.type);
    expect([...types.slice(0, 3)].sort()).toEqual(['escalated', 'reminder_due', 'reminder_due']);
    expect(types[3]).toBe('decision');
    const reminders = firstThree.filter((webhook) => webhook.payload.type === 'reminder_due');
    expect(reminders.map((webhook) => webhook.payload.data.reminder)).toEqual([1, 2]);
    expect(new Set(reminders.map((webhook) => webhook.headers['webhook-id'])).size).toBe(2);
    expect(firstThree.find((webhook) => webhook.payload.type === 'escalated')!.payload.data).toMatchObject({ callback_id: 'wh-late', users: ['bob'], groups: [], state: 'pending', metadata: { thread: 'ops-7' } });
    expect(all[3].payload.data).toMatchObject({ callback_id: 'wh-late', state: 'confirmed', decided_by: 'bob', metadata: { thread: 'ops-7' } });
  });

  it('keeps a plain prompt plain: no metadata in its view, no webhook, no deliveries', async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    const asked = await app.http('POST', '/notify', timingOut('alice', 'task-plain', { callback_id: 'plain-1' }));
    expect(asked.body.state).toBe('timed_out');
    const view = await app.http('GET', '/confirmations/plain-1');
    expect('metadata' in view.body).toBe(false);
    expect((await app.http('GET', '/confirmations/plain-1/deliveries')).body).toEqual({ callback_id: 'plain-1', attempts: [] });
    expect((await app.http('GET', '/confirmations/nobody/deliveries')).status).toBe(404);
  });

  it('retries a 503 after its Retry-After, with the same webhook-id, until it succeeds', async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    receiver.answers = [{ status: 503, headers: { 'retry-after': '1' } }, { status: 200 }];
    await app.http('POST', '/notify', timingOut('bob', 'task-2', { callback_id: 'wh-retry', callback_url: receiver.url() }));
    const [first, second] = await receiver.waitFor(2);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.at - first.at).toBeGreaterThanOrEqual(950);
    expect([first.verified, second.verified]).toEqual([true, true]);
    expect(second.payload.data).toMatchObject({ state: 'timed_out', timed_out: true, metadata: null });
    await waitFor(async () => (await app.http('GET', '/confirmations/wh-retry/deliveries')).body.attempts.length === 2, 5000, 'both attempts listed');
    const { attempts } = (await app.http('GET', '/confirmations/wh-retry/deliveries')).body;
    expect(attempts.map((a: any) => [a.attempt, a.status_code, a.outcome])).toEqual([[1, 503, 'retrying'], [2, 200, 'delivered']]);
    expect(attempts[0].next_attempt_at - attempts[0].at).toBeGreaterThanOrEqual(0.99);
    // The audit trail has both attempts, in order, after the decision they tell.
    const { events } = (await app.http('GET', '/confirmations/wh-retry/events')).body;
    expect(events.map((e: any) => e.kind)).toEqual(['created', 'delivered', 'settled', 'webhook_attempt', 'webhook_attempt']);
    const webhookId = first.headers['webhook-id'];
    expect(events[3]).toMatchObject({ user_id: 'bob', task_id: 'task-2', at: attempts[0].at });
    expect(events[3].details).toEqual({ webhook_id: webhookId, event: 'decision', attempt: 1, status_code: 503, error: null, latency_ms: attempts[0].latency_ms, outcome: 'retrying' });
    expect(events[4].details).toEqual({ webhook_id: webhookId, event: 'decision', attempt: 2, status_code: 200, error: null, latency_ms: attempts[1].latency_ms, outcome: 'delivered' });
  });

  it('stops at 410 Gone', async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    receiver.answers = [{ status: 410 }, { status: 200 }];
    await app.http('POST', '/notify', timingOut('bob', 'task-3', { callback_id: 'wh-gone', callback_url: receiver.url() }));
    await receiver.waitFor(1);
    await sleep(2500);
    expect(receiver.received).toHaveLength(1);
    const { attempts } = (await app.http('GET', '/confirmations/wh-gone/deliveries')).body;
    expect(attempts.map((a: any) => [a.status_code, a.outcome, a.next_attempt_at])).toEqual([[410, 'gone', null]]);
  });

  it('does not follow a redirect: a 3xx is a failed attempt, retried at the same URL', async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    receiver.answers = [{ status: 307, headers: { location: '/elsewhere' } }, { status: 204 }];
    await app.http('POST', '/notify', timingOut('bob', 'task-4', { callback_id: 'wh-redirect', callback_url: receiver.url('/hook?x=1') }));
    const received = await receiver.waitFor(2, 15_000);
    expect(received.map((r) => r.path)).toEqual(['/hook?x=1', '/hook?x=1']);
    const { attempts } = (await app.http('GET', '/confirmations/wh-redirect/deliveries')).body;
    expect(attempts.map((a: any) => [a.status_code, a.outcome])).toEqual([[307, 'retrying'], [204, 'delivered']]);
  });

  it('refuses at POST /notify what webhooks cannot go to, saying why', async () => {
    const refused = async (extra: Record<string, unknown>) => {
      const reply = await app.http('POST', '/notify', notifyBody('carol', 'task-5', extra));
      expect([reply.status, reply.body.code]).toEqual([400, 'invalid_message']);
      return reply.body.message as string;
    };
    expect(await refused({ callback_url: 'ftp://example.com/x' })).toBe('callback_url must use https or http');
    expect(await refused({ callback_url: 'https://user:secret@example.com/x' })).toBe('callback_url must not carry credentials (user:password@)');
    expect(await refused({ callback_url: '/relative' })).toBe('callback_url must be an absolute http or https URL');
    expect(await refused({ callback_url: 42 })).toContain('callback_url must be a string');
    expect(await refused({ metadata: [1, 2] })).toContain('metadata must be an object');
    expect(await refused({ metadata: { big: 'x'.repeat(16_400) } })).toMatch(/^metadata must be at most 16384 bytes as JSON \(it is \d+\)$/);
  });
});

describe('webhooks to private addresses (WEBHOOK_ALLOW_PRIVATE unset)', () => {
  let app: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    app = await startTestApp({ WEBHOOK_SECRETS: SECRETS[0], WEBHOOK_ALLOWED_HOSTS: 'localhost,127.0.0.1,*.example.com' });
    receiver = await WebhookReceiver.start([SECRETS[0]]);
  });
  afterAll(async () => {
    await receiver.close();
    await app.close();
  });

  it('refuses a private address at POST /notify, and a name resolving to one at the attempt, sending nothing', async () => {
    const reply = await app.http('POST', '/notify', notifyBody('dave', 'task-6', { callback_url: receiver.url() }));
    expect([reply.status, reply.body.message]).toEqual([400, 'callback_url address 127.0.0.1 is loopback; only public addresses are allowed']);
    const mapped = await app.http('POST', '/notify', notifyBody('dave', 'task-6', { callback_url: `http://[::ffff:127.0.0.1]:${receiver.port}/` }));
    expect([mapped.status, mapped.body.message]).toEqual([400, 'callback_url host ::ffff:7f00:1 is not in WEBHOOK_ALLOWED_HOSTS']);
    const outside = await app.http('POST', '/notify', notifyBody('dave', 'task-6', { callback_url: 'https://hooks.other.net/in' }));
    expect([outside.status, outside.body.message]).toEqual([400, 'callback_url host hooks.other.net is not in WEBHOOK_ALLOWED_HOSTS']);

    const byName = await app.http('POST', '/notify', timingOut('dave', 'task-6', { callback_id: 'wh-private', callback_url: `http://localhost:${receiver.port}/hook` }));
    expect(byName.status).toBe(200);
    await waitFor(async () => (await app.http('GET', '/confirmations/wh-private/deliveries')).body.attempts.length === 1, 5000, 'the refused attempt');
    const { attempts } = (await app.http('GET', '/confirmations/wh-private/deliveries')).body;
    expect(attempts[0]).toMatchObject({ status_code: null, outcome: 'given_up', next_attempt_at: null });
    expect(attempts[0].error).toMatch(/^refused: localhost resolves to (127\.0\.0\.1|::1), which is loopback/);
    await sleep(1000);
    expect(receiver.received).toHaveLength(0);
  });
});

const haveRedis = requireProgram('redis-server', 'redis-server');

/** The instance whose process holds the TCP connection from `localPort` (Linux /proc). */
function instanceHolding(instances: ServiceInstance[], localPort: number): ServiceInstance | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9 && parseInt(fields[1].split(':')[1], 16) === localPort) inodes.add(fields[9]);
    }
  }
  return instances.find((instance) => {
    const pid = instance.pid;
    if (pid === undefined) return false;
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        return inodes.has(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? '');
      } catch {
        return false;
      }
    });
  });
}

(haveRedis ? describe : describe.skip)('webhooks in cluster mode (three instances, redis-server with AOF)', () => {
  let cluster: Cluster;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    cluster = await startCluster(3, WEBHOOK_ENV, { persistent: true });
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });
  afterEach(async () => {
    await receiver?.close();
  });

  it('sends a decision made on any instance once, signed, with the metadata', async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    const [a, b] = cluster.instances;
    const tab = await b.connect('erin');
    await a.http('POST', '/notify?wait=false', notifyBody('erin', 'task-c1', { callback_id: 'c-once', callback_url: receiver.url(), metadata: { k: 'v' } }));
    const prompt = await tab.next('task_step_result');
    tab.send({ action: 'confirm', callback_id: prompt.callback_id, proceed: false, feedback: 'no' });
    const [webhook] = await receiver.waitFor(1);
    expect(webhook.verified).toBe(true);
    expect(webhook.payload.data).toMatchObject({ callback_id: 'c-once', state: 'rejected', proceed: false, feedback: 'no', metadata: { k: 'v' } });
    await sleep(1500);
    expect(receiver.received).toHaveLength(1);
    const { attempts } = (await cluster.instances[2].http('GET', '/confirmations/c-once/deliveries')).body;
    expect(attempts.map((x: any) => x.outcome)).toEqual(['delivered']);
    expect((await cluster.instances[2].http('GET', '/confirmations/c-once')).body.metadata).toEqual({ k: 'v' });
  });

  it('retries a 503 with Retry-After from whichever instance, does not follow a redirect, and stops at 410', async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    receiver.answers = [{ status: 503, headers: { 'retry-after': '1' } }, { status: 204 }];
    await cluster.instances[0].http('POST', '/notify', timingOut('frank', 'task-c2', { callback_id: 'c-retry', callback_url: receiver.url() }));
    const [first, second] = await receiver.waitFor(2);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.at - first.at).toBeGreaterThanOrEqual(950);
    const attemptsIn = async () => (await cluster.instances[2].http('GET', '/confirmations/c-retry/events')).body.events.filter((e: any) => e.kind === 'webhook_attempt');
    await waitFor(async () => (await attemptsIn()).length === 2, 5000, 'both attempts in the trail');
    expect((await attemptsIn()).map((e: any) => [e.details.attempt, e.details.status_code, e.details.outcome])).toEqual([[1, 503, 'retrying'], [2, 204, 'delivered']]);
    const gone = await WebhookReceiver.start(SECRETS);
    try {
      gone.answers = [{ status: 307, headers: { location: '/elsewhere' } }, { status: 410 }, { status: 204 }];
      await cluster.instances[1].http('POST', '/notify', timingOut('frank', 'task-c3', { callback_id: 'c-gone', callback_url: gone.url() }));
      await gone.waitFor(2);
      await sleep(2500);
      expect(gone.received.map((r) => r.path)).toEqual(['/hook', '/hook']);
      const { attempts } = (await cluster.instances[2].http('GET', '/confirmations/c-gone/deliveries')).body;
      expect(attempts.map((a: any) => [a.status_code, a.outcome])).toEqual([[307, 'retrying'], [410, 'gone']]);
    } finally {
      await gone.close();
    }
  });

  it('delivers a webhook whose instance was SIGKILLed mid-attempt from another instance, after its lease', async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    receiver.answers = ['hang', { status: 204 }];
    await cluster.instances[0].http('POST', '/notify', timingOut('gina', 'task-c4', { callback_id: 'c-kill', callback_url: receiver.url() }));
    const [first] = await receiver.waitFor(1);
    const holder = instanceHolding(cluster.instances, first.remotePort);
    expect(holder).toBeDefined();
    await holder!.stop('SIGKILL');
    try {
      const [, second] = await receiver.waitFor(2, 20_000);
      expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
      expect(second.verified).toBe(true);
      // Not before the lease (the 1 s timeout and its margin) ended.
      expect(second.at - first.at).toBeGreaterThanOrEqual(5000);
      await sleep(1000);
      expect(receiver.received).toHaveLength(2);
    } finally {
      await holder!.startProcess();
    }
  }, 60_000);

  it('loses no webhook across a Redis restart (append-only file)', async () => {
    receiver = await WebhookReceiver.start(SECRETS);
    receiver.answers = [{ status: 503, headers: { 'retry-after': '3' } }];
    const ids = ['r-1', 'r-2', 'r-3', 'r-4', 'r-5'];
    await Promise.all(ids.map((id, i) => cluster.instances[i % 3].http('POST', '/notify', timingOut('hank', `task-r${i}`, { callback_id: id, callback_url: receiver.url() }))));
    await receiver.waitFor(ids.length);
    await cluster.redis.stop('SIGKILL');
    await cluster.redis.startProcess();
    receiver.answers = [{ status: 204 }];
    const delivered = () => new Set(receiver.received.map((r) => r.payload.data.callback_id));
    await waitFor(async () => {
      const { attempts } = (await cluster.instances[0].http('GET', '/confirmations/r-5/deliveries')).body ?? {};
      return Array.isArray(attempts);
    }, 20_000, 'Redis back');
    await waitFor(async () => {
      // Instance 1 may still be reconnecting to Redis (503, no attempts) when instance 0 is back.
      const outcomes = await Promise.all(ids.map(async (id) => (await cluster.instances[1].http('GET', `/confirmations/${id}/deliveries`)).body?.attempts?.at(-1)?.outcome));
      return outcomes.every((o) => o === 'delivered');
    }, 30_000, 'every webhook delivered after the restart');
    expect(delivered()).toEqual(new Set(ids));
    expect(receiver.received.every((r) => r.verified)).toBe(true);
  }, 60_000);
});
