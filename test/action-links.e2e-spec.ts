import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { LinkSigner } from '../src/links/action-link-token.js';
import { startCluster, type Cluster } from './support/cluster.js';
import { waitFor } from './support/processes.js';
import { underCi } from './support/system-dependency.js';
import { notifyBody, request, startTestApp, type HttpResult, type TestApp } from './support/test-app.js';

/** Cluster instances start as child processes, and a browser runs one test: generous on a busy machine. */
jest.setTimeout(90_000);

const KEY = 'links-test-key';
const AUTH = { authorization: `Bearer ${KEY}` };
const SECRET = 'action-links-test-secret-of-32-chars-or-more';
const OLD_SECRET = 'an-older-link-signing-secret-still-accepted';

interface Link {
  approver: string;
  choice: string;
  proceed: boolean;
  url: string;
  expires_at: number;
}

/** The path of a link (`/a/<token>`), to send to whichever instance a test picks. */
const pathOf = (link: Link) => new URL(link.url).pathname;
const tokenOf = (link: Link) => link.url.slice(link.url.lastIndexOf('/a/') + 3);
const linkFor = (links: Link[], choice: string) => links.find((l) => l.choice === choice)!;

/** The token with one character of its mac (after the dot) changed. */
function tampered(token: string): string {
  const i = token.length - 5;
  return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
}

/** A page's answer, read as text (HTML). */
async function page(baseUrl: string, method: 'GET' | 'POST' | 'HEAD', path: string): Promise<{ status: number; headers: Headers; html: string }> {
  const response = await fetch(baseUrl + path, { method, redirect: 'manual' });
  return { status: response.status, headers: response.headers, html: await response.text() };
}

function expectLinks(links: Link[], base: string, approver: string): void {
  expect(links.map((l) => [l.approver, l.choice, l.proceed])).toEqual([
    [approver, 'proceed', true],
    [approver, 'reject', false],
  ]);
  for (const link of links) {
    expect(link.url.startsWith(`${base}/a/`)).toBe(true);
    expect(tokenOf(link)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(typeof link.expires_at).toBe('number');
  }
}

describe('action links, in memory mode', () => {
  let t: TestApp;
  let inboxCsp: string;

  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: KEY, LINK_SIGNING_SECRET: `${SECRET},${OLD_SECRET}` });
    inboxCsp = (await t.http('GET', '/inbox')).headers.get('content-security-policy')!;
  });
  afterAll(async () => {
    await t?.close();
  });

  const state = async (callbackId: string) => (await t.http('GET', `/confirmations/${callbackId}`, undefined, AUTH)).body.state;

  it('are handed out only when asked for: in the 202 of wait=false and in GET /confirmations/:id, the same each time', async () => {
    const plain = await t.http('POST', '/notify?wait=false', notifyBody('alice', 'plain-task'), AUTH);
    expect(plain.status).toBe(202);
    expect(plain.body).not.toHaveProperty('links');
    expect((await t.http('GET', `/confirmations/${plain.body.callback_id}`, undefined, AUTH)).body).not.toHaveProperty('links');

    const asked = await t.http('POST', '/notify?wait=false', notifyBody('alice', 'task-1', { links: true }), AUTH);
    expect(asked.status).toBe(202);
    expectLinks(asked.body.links, t.baseUrl, 'alice');
    expect(asked.body.links[0].expires_at).toBe(asked.body.expires_at);
    const view = await t.http('GET', `/confirmations/${asked.body.callback_id}`, undefined, AUTH);
    expect(view.body.links).toEqual(asked.body.links);
  });

  it('a GET shows the prompt and one button, under the inbox\'s CSP, and never decides', async () => {
    const asked = await t.http('POST', '/notify?wait=false', notifyBody('alice', 'task-get', { links: true, step_result: { step: 'deploy <prod>', message: 'Ship "v2" & <b>tell</b>?', status: 'ok' } }), AUTH);
    const proceed = linkFor(asked.body.links, 'proceed');
    for (let i = 0; i < 3; i++) {
      const shown = await page(t.baseUrl, 'GET', pathOf(proceed));
      expect(shown.status).toBe(200);
      expect(shown.headers.get('content-type')).toMatch(/^text\/html/);
      expect(shown.headers.get('content-security-policy')).toBe(inboxCsp);
      expect(shown.headers.get('x-frame-options')).toBe('DENY');
      expect(shown.headers.get('referrer-policy')).toBe('no-referrer');
      expect(shown.headers.get('cache-control')).toBe('no-store');
      // The prompt, escaped; one form posting to the link itself; no script, no inline style.
      expect(shown.html).toContain('deploy &lt;prod&gt;');
      expect(shown.html).toContain('Ship &quot;v2&quot; &amp; &lt;b&gt;tell&lt;/b&gt;?');
      expect(shown.html.match(/<form /g)).toHaveLength(1);
      expect(shown.html).toContain('<form method="post"><button type="submit" class="choice proceed">Approve</button></form>');
      expect(shown.html).not.toMatch(/<script|<style|style=|action=|https?:\/\//);
    }
    expect((await page(t.baseUrl, 'HEAD', pathOf(proceed))).status).toBe(200);
    const css = await page(t.baseUrl, 'GET', '/a/assets/links.css');
    expect([css.status, css.headers.get('content-type')]).toEqual([200, 'text/css; charset=utf-8']);
    expect(await state(asked.body.callback_id)).toBe('pending');
  });

  it('a link decides once: the waiting POST /notify gets the decision; a second click, the other choice and a non-approver change nothing', async () => {
    const erin = await t.connect('erin');
    const callbackId = 'links-once-1';
    const waiting = t.http('POST', '/notify', notifyBody('erin', 'task-once', { links: true, callback_id: callbackId }), AUTH);
    await erin.next('task_step_result');
    const links: Link[] = (await t.http('GET', `/confirmations/${callbackId}`, undefined, AUTH)).body.links;
    const reject = linkFor(links, 'reject');

    const decided = await page(t.baseUrl, 'POST', pathOf(reject));
    expect(decided.status).toBe(200);
    expect(decided.headers.get('content-security-policy')).toBe(inboxCsp);
    expect(decided.html).toContain('<h1>Rejected</h1>');
    const decision = await waiting;
    expect(decision.status).toBe(200);
    expect(decision.body).toMatchObject({ callback_id: callbackId, state: 'rejected', proceed: false, timed_out: false });
    if ('decided_by' in decision.body) expect(decision.body.decided_by).toBe('erin');
    expect(decision.body.links).toEqual(links);
    // The user's socket hears the decision like any other.
    expect(await erin.next('confirmation_resolved')).toMatchObject({ callback_id: callbackId, state: 'rejected', proceed: false });

    const again = await page(t.baseUrl, 'POST', pathOf(reject));
    expect(again.status).toBe(409);
    expect(again.html).toContain('Already decided');
    const other = await page(t.baseUrl, 'POST', pathOf(linkFor(links, 'proceed')));
    expect(other.status).toBe(409);
    expect((await page(t.baseUrl, 'GET', pathOf(linkFor(links, 'proceed')))).status).toBe(409);
    // A link naming someone who is not an approver (signed with the real secret, the real nonce): refused, before and after.
    const [, , , , expiresAt, nonce] = JSON.parse(Buffer.from(tokenOf(reject).split('.')[0], 'base64url').toString());
    const mallory = new LinkSigner([SECRET]).sign({ callbackId, approver: 'mallory', choice: 'proceed', expiresAt, nonce });
    expect((await page(t.baseUrl, 'POST', `/a/${mallory}`)).status).toBe(403);
    const view = await t.http('GET', `/confirmations/${callbackId}`, undefined, AUTH);
    expect(view.body).toMatchObject({ state: 'rejected', proceed: false });
  });

  it('an expired link, a tampered one and one signed elsewhere change nothing, and do not say which check failed', async () => {
    const asked = await t.http('POST', '/notify?wait=false', notifyBody('alice', 'task-expiry', { links: { expires_in_seconds: 1 } }), AUTH);
    const links: Link[] = asked.body.links;
    expect(links[0].expires_at).toBeLessThan(asked.body.expires_at);
    const proceed = linkFor(links, 'proceed');

    const bad = [tampered(tokenOf(proceed)), `${tokenOf(proceed).slice(1)}`, 'not-a-token', new LinkSigner(['a-secret-this-gateway-does-not-hold!!!!']).sign({ callbackId: asked.body.callback_id, approver: 'alice', choice: 'proceed', expiresAt: Date.now() / 1000 + 60, nonce: 'x' })];
    const refusals = await Promise.all(bad.flatMap((token) => [page(t.baseUrl, 'GET', `/a/${token}`), page(t.baseUrl, 'POST', `/a/${token}`)]));
    expect(refusals.map((r) => r.status)).toEqual(Array(8).fill(403));
    expect(new Set(refusals.map((r) => r.html)).size).toBe(1);
    expect(await state(asked.body.callback_id)).toBe('pending');

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const expired = await page(t.baseUrl, 'POST', pathOf(proceed));
    expect(expired.status).toBe(410);
    expect(expired.html).toContain('This link has expired');
    expect((await page(t.baseUrl, 'GET', pathOf(proceed))).status).toBe(410);
    expect(await state(asked.body.callback_id)).toBe('pending');
  });

  it('the audit trail has a link\'s opening (once a minute, however often) and its use, never its token; an invalid link records nothing', async () => {
    const callbackId = 'links-audit-1';
    const asked = await t.http('POST', '/notify?wait=false', notifyBody('gina', 'task-audit', { links: true, callback_id: callbackId }), AUTH);
    const reject = linkFor(asked.body.links, 'reject');
    const [, , , , expiresAt, nonce] = JSON.parse(Buffer.from(tokenOf(reject).split('.')[0], 'base64url').toString());
    const mallory = new LinkSigner([SECRET]).sign({ callbackId, approver: 'mallory', choice: 'reject', expiresAt, nonce });
    for (const path of [`/a/${tampered(tokenOf(reject))}`, `/a/${mallory}`]) {
      expect((await page(t.baseUrl, 'GET', path)).status).toBe(403);
      expect((await page(t.baseUrl, 'POST', path)).status).toBe(403);
    }
    for (let i = 0; i < 3; i++) expect((await page(t.baseUrl, 'GET', pathOf(reject))).status).toBe(200);
    expect((await page(t.baseUrl, 'POST', pathOf(reject))).status).toBe(200);
    expect((await page(t.baseUrl, 'POST', pathOf(linkFor(asked.body.links, 'proceed')))).status).toBe(409);

    const trail = await t.http('GET', `/confirmations/${callbackId}/events`, undefined, AUTH);
    expect(trail.status).toBe(200);
    const events: { kind: string; details: Record<string, unknown> }[] = trail.body.events;
    expect(events.map((e) => e.kind)).toEqual(['created', 'delivered', 'link_opened', 'answered', 'settled', 'link_used', 'link_used']);
    expect(events[2].details).toEqual({ approver: 'gina', choice: 'reject', page: 'open' });
    expect(events[3].details).toMatchObject({ answered_by: 'gina', proceed: false });
    expect(events[5].details).toEqual({ approver: 'gina', choice: 'reject', outcome: 'decided' });
    expect(events[6].details).toEqual({ approver: 'gina', choice: 'proceed', outcome: 'settled' });
    for (const link of asked.body.links) expect(JSON.stringify(trail.body)).not.toContain(tokenOf(link).split('.')[1]);
  });

  it('a link of a confirmation answered on the WebSocket, or of a cancelled task, gets 409; of a timed-out one 410', async () => {
    const frank = await t.connect('frank');
    const answered = await t.http('POST', '/notify?wait=false', notifyBody('frank', 'task-ws', { links: true }), AUTH);
    await frank.next('task_step_result');
    frank.send({ action: 'confirm', callback_id: answered.body.callback_id, proceed: true });
    await frank.next('confirmation_accepted');
    expect((await page(t.baseUrl, 'POST', pathOf(linkFor(answered.body.links, 'reject')))).status).toBe(409);
    expect(await state(answered.body.callback_id)).toBe('confirmed');

    const cancelled = await t.http('POST', '/notify?wait=false', notifyBody('frank', 'task-cancel', { links: true }), AUTH);
    await frank.next('task_step_result');
    frank.send({ action: 'cancel', task_id: 'task-cancel' });
    await waitFor(async () => (await state(cancelled.body.callback_id)) === 'cancelled', 5000, 'the cancellation');
    const refused = await page(t.baseUrl, 'POST', pathOf(linkFor(cancelled.body.links, 'proceed')));
    expect(refused.status).toBe(409);
    expect(refused.html).toContain('cancelled');

    const timedOut = await t.http('POST', '/notify?wait=false', notifyBody('frank', 'task-timeout', { links: true, timeout_seconds: 0.3 }), AUTH);
    await waitFor(async () => (await state(timedOut.body.callback_id)) === 'timed_out', 5000, 'the timeout');
    expect((await page(t.baseUrl, 'POST', pathOf(linkFor(timedOut.body.links, 'reject')))).status).toBe(410);
    expect(await state(timedOut.body.callback_id)).toBe('timed_out');
  });

  it('a link of an earlier confirmation that had the same callback_id decides nothing on the new one', async () => {
    const short = await startTestApp({ API_KEYS: KEY, LINK_SIGNING_SECRET: SECRET, CONFIRMATION_RETENTION_SECONDS: 1 });
    try {
      const first = await short.http('POST', '/notify?wait=false', notifyBody('alice', 'task-reuse', { links: true, callback_id: 'reused-1' }), AUTH);
      const firstReject = linkFor(first.body.links, 'reject');
      expect((await page(short.baseUrl, 'POST', pathOf(firstReject))).status).toBe(200);
      await waitFor(async () => (await short.http('GET', '/confirmations/reused-1', undefined, AUTH)).status === 404, 10_000, 'retention to pass');
      expect((await page(short.baseUrl, 'GET', pathOf(firstReject))).status).toBe(404);
      const second = await short.http('POST', '/notify?wait=false', notifyBody('alice', 'task-reuse', { links: true, callback_id: 'reused-1' }), AUTH);
      expect(second.status).toBe(202);
      expect((await page(short.baseUrl, 'POST', pathOf(firstReject))).status).toBe(403);
      expect((await short.http('GET', '/confirmations/reused-1', undefined, AUTH)).body.state).toBe('pending');
    } finally {
      await short.close();
    }
  });

  it('with several approvers and options: a link per approver and option; each approver votes once; after the decision every link is spent', async () => {
    const asked = await t.http('POST', '/notify?wait=false', notifyBody('owner', 'task-approvals', {
      callback_id: 'links-approvals-1',
      step_result: { step: 'release', message: 'Release v3?', status: 'ok' },
      options: [{ id: 'ship', label: 'Ship it', proceed: true }, { id: 'hold', label: 'Hold', proceed: false }],
      approvers: { users: ['ann', 'ben'] },
      policy: 'all',
      links: true,
    }), AUTH);
    expect(asked.status).toBe(202);
    const confirmation = { callbackId: asked.body.callback_id as string };
    const links: Link[] = (await t.http('GET', `/confirmations/${confirmation.callbackId}`, undefined, AUTH)).body.links;
    expect(links.map((l) => [l.approver, l.choice, l.proceed])).toEqual([['ann', 'ship', true], ['ann', 'hold', false], ['ben', 'ship', true], ['ben', 'hold', false]]);
    const of = (approver: string, choice: string) => pathOf(links.find((l) => l.approver === approver && l.choice === choice)!);

    const shown = await page(t.baseUrl, 'GET', of('ann', 'ship'));
    expect(shown.html).toContain('class="choice proceed">Ship it</button>');
    const first = await page(t.baseUrl, 'POST', of('ann', 'ship'));
    expect([first.status, /Answer recorded/.test(first.html)]).toEqual([200, true]);
    expect((await page(t.baseUrl, 'POST', of('ann', 'ship'))).status).toBe(409);
    expect((await page(t.baseUrl, 'POST', of('ann', 'hold'))).html).toContain('You already answered');
    expect((await t.http('GET', `/confirmations/${confirmation.callbackId}`, undefined, AUTH)).body.state).toBe('pending');

    const last = await page(t.baseUrl, 'POST', of('ben', 'ship'));
    expect([last.status, /<h1>Ship it<\/h1>/.test(last.html)]).toEqual([200, true]);
    const view = (await t.http('GET', `/confirmations/${confirmation.callbackId}`, undefined, AUTH)).body;
    expect(view).toMatchObject({ state: 'confirmed', proceed: true, option: 'ship', decided_by: 'ben' });
    expect(view.votes.map((v: { user_id: string }) => v.user_id)).toEqual(['ann', 'ben']);
    // Another approver's link, and the other option, after the decision: nothing changes.
    for (const [approver, choice] of [['ann', 'hold'], ['ben', 'hold']]) {
      const after = await page(t.baseUrl, 'POST', of(approver, choice));
      expect([approver, choice, after.status]).toEqual([approver, choice, 409]);
    }
    expect((await t.http('GET', `/confirmations/${confirmation.callbackId}`, undefined, AUTH)).body).toMatchObject({ state: 'confirmed', option: 'ship' });
  });

  it('refuses a bad links field, and links on a gateway where they are disabled', async () => {
    for (const links of ['yes', 1, { expires_in_seconds: 0 }, { expires_in_seconds: 'soon' }, { other: 1 }, []]) {
      const refused = await t.http('POST', '/notify?wait=false', notifyBody('alice', 'task-bad', { links }), AUTH);
      expect([JSON.stringify(links), refused.status, refused.body.code]).toEqual([JSON.stringify(links), 400, 'invalid_message']);
      expect(refused.body.message).toMatch(/links must be true, false or \{ expires_in_seconds/);
    }
    expect((await t.http('POST', '/notify?wait=false', notifyBody('alice', 'task-false', { links: false }), AUTH)).body).not.toHaveProperty('links');
    const off = await startTestApp({ API_KEYS: KEY, ACTION_LINKS_ENABLED: false });
    try {
      const refused = await off.http('POST', '/notify?wait=false', notifyBody('alice', 'task-off', { links: true }), AUTH);
      expect([refused.status, refused.body.code]).toEqual([400, 'invalid_message']);
      expect(refused.body.message).toContain('ACTION_LINKS_ENABLED');
      expect((await page(off.baseUrl, 'GET', '/a/anything.x')).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe('action links, in cluster mode (three instances, one Redis)', () => {
  let cluster: Cluster;
  const PUBLIC = 'https://approvals.example.test/gateway';

  beforeAll(async () => {
    cluster = await startCluster(3, { API_KEYS: KEY, LINK_SIGNING_SECRET: SECRET, PUBLIC_BASE_URL: `${PUBLIC}/`, LOG_LEVEL: 'debug' });
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('a link made on one instance decides once on another; the caller waiting on the first gets the decision; its token is in no log', async () => {
    const [a, b, c] = cluster.instances;
    const callbackId = 'cluster-links-1';
    const waiting = request(a.baseUrl, 'POST', '/notify', notifyBody('carol', 'task-c', { links: true, callback_id: callbackId }), AUTH);
    let links: Link[] = [];
    await waitFor(async () => {
      const view = await b.http('GET', `/confirmations/${callbackId}`, undefined, AUTH);
      links = view.body?.links ?? [];
      return view.status === 200;
    }, 10_000, 'the confirmation on another instance');
    // PUBLIC_BASE_URL (its trailing slash dropped) starts every link, whichever instance shows it.
    expectLinks(links, PUBLIC, 'carol');
    expect((await c.http('GET', `/confirmations/${callbackId}`, undefined, AUTH)).body.links).toEqual(links);
    const proceed = linkFor(links, 'proceed');
    const path = (link: Link) => `/a/${tokenOf(link)}`;

    expect((await page(c.baseUrl, 'GET', path(proceed))).status).toBe(200);
    const refusals = await Promise.all([page(b.baseUrl, 'POST', `/a/${tampered(tokenOf(proceed))}`), page(c.baseUrl, 'GET', `/a/${tampered(tokenOf(proceed))}`)]);
    expect(refusals.map((r) => r.status)).toEqual([403, 403]);
    expect((await b.http('GET', `/confirmations/${callbackId}`, undefined, AUTH)).body.state).toBe('pending');

    const decided = await page(c.baseUrl, 'POST', path(proceed));
    expect(decided.status).toBe(200);
    expect(decided.html).toContain('<h1>Approved</h1>');
    const decision: HttpResult = await waiting;
    expect(decision.status).toBe(200);
    expect(decision.body).toMatchObject({ callback_id: callbackId, state: 'confirmed', proceed: true });
    if ('decided_by' in decision.body) expect(decision.body.decided_by).toBe('carol');

    const clicks = await Promise.all([page(a.baseUrl, 'POST', path(proceed)), page(b.baseUrl, 'POST', path(linkFor(links, 'reject')))]);
    expect(clicks.map((r) => r.status)).toEqual([409, 409]);
    expect((await a.http('GET', `/confirmations/${callbackId}`, undefined, AUTH)).body).toMatchObject({ state: 'confirmed', proceed: true });

    // The trail, read on a third instance: the page opened on c (once: the tampered link recorded nothing), then the answer.
    let kinds: string[] = [];
    await waitFor(async () => {
      kinds = (await a.http('GET', `/confirmations/${callbackId}/events`, undefined, AUTH)).body.events.map((e: { kind: string }) => e.kind);
      return kinds.filter((k) => k === 'link_used').length === 3;
    }, 5000, 'the link events in the trail');
    expect(kinds.filter((k) => k.startsWith('link_') || k === 'answered')).toEqual(['link_opened', 'answered', 'link_used', 'link_used', 'link_used']);

    // Expired, on a third instance.
    const short = await b.http('POST', '/notify?wait=false', notifyBody('carol', 'task-c2', { links: { expires_in_seconds: 1 } }), AUTH);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await page(a.baseUrl, 'POST', path(linkFor(short.body.links, 'proceed')))).status).toBe(410);
    expect((await c.http('GET', `/confirmations/${short.body.callback_id}`, undefined, AUTH)).body.state).toBe('pending');

    // Request lines are logged at debug (2xx) and info (4xx): every link request was, without its token.
    const tokens = [...links, ...short.body.links].map(tokenOf);
    await waitFor(() => cluster.instances.every((i) => i.output.includes('/a/[Redacted]')), 5000, 'the request lines');
    for (const instance of cluster.instances) {
      for (const token of tokens) {
        expect(instance.output).not.toContain(token);
        expect(instance.output).not.toContain(token.split('.')[1]);
      }
    }
  });

  it('several approvers on several instances: one votes through a link on one, the other decides on a third, the caller waiting on the first hears who', async () => {
    const [a, b, c] = cluster.instances;
    const callbackId = 'cluster-links-votes';
    const waiting = request(a.baseUrl, 'POST', '/notify', notifyBody('owner', 'task-v', {
      callback_id: callbackId,
      options: [{ id: 'ship', label: 'Ship it', proceed: true }, { id: 'hold', label: 'Hold', proceed: false }],
      approvers: { users: ['ann', 'ben'] },
      policy: 'all',
      links: true,
    }), AUTH);
    let links: Link[] = [];
    await waitFor(async () => {
      links = (await b.http('GET', `/confirmations/${callbackId}`, undefined, AUTH)).body?.links ?? [];
      return links.length === 4;
    }, 10_000, 'the links');
    const of = (approver: string, choice: string) => `/a/${tokenOf(links.find((l) => l.approver === approver && l.choice === choice)!)}`;
    expect((await page(b.baseUrl, 'POST', of('ann', 'ship'))).status).toBe(200);
    expect((await page(c.baseUrl, 'POST', of('ann', 'hold'))).status).toBe(409);
    const last = await page(c.baseUrl, 'POST', of('ben', 'ship'));
    expect([last.status, /<h1>Ship it<\/h1>/.test(last.html)]).toEqual([200, true]);
    const decision = await waiting;
    expect(decision.body).toMatchObject({ callback_id: callbackId, state: 'confirmed', proceed: true, option: 'ship', decided_by: 'ben' });
    expect((await page(a.baseUrl, 'POST', of('ben', 'hold'))).status).toBe(409);
  });
});

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !underCi()) {
  console.warn(`\n*** SKIPPING the action link page's browser test: ${CHROMIUM} is missing (Debian package "chromium"). CI fails without it. ***\n`);
}
const browserDescribe = haveChromium || underCi() ? describe : describe.skip;

browserDescribe('an action link in Chromium', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`CI is set and ${CHROMIUM} is missing: install the Debian package "chromium"`);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    t = await startTestApp({ API_KEYS: KEY, LINK_SIGNING_SECRET: SECRET });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('opens, shows the prompt styled by its own stylesheet, and the button decides, with no CSP violation', async () => {
    const callbackId = 'browser-link-1';
    const waiting = t.http('POST', '/notify', notifyBody('dora', 'task-b', { links: true, callback_id: callbackId }), AUTH);
    let links: Link[] = [];
    await waitFor(async () => {
      links = (await t.http('GET', `/confirmations/${callbackId}`, undefined, AUTH)).body?.links ?? [];
      return links.length > 0;
    }, 5000, 'the links');
    const context = await browser.newContext();
    const tab = await context.newPage();
    const problems: string[] = [];
    tab.on('console', (message) => {
      // The 409 of the last visit is the page's own status, logged as a failed load.
      const expected = /status of 409/.test(message.text());
      if ((message.type() === 'error' || message.type() === 'warning') && !expected) problems.push(`console: ${message.text()}`);
    });
    tab.on('request', (sent) => {
      if (!sent.url().startsWith(`${t.baseUrl}/a/`)) problems.push(`request outside the link: ${sent.url()}`);
    });
    tab.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    try {
      const opened = await tab.goto(linkFor(links, 'proceed').url);
      expect(opened?.status()).toBe(200);
      expect(await tab.locator('h1').textContent()).toBe('Approve?');
      expect(await tab.locator('.message').textContent()).toBe('Validation finished with 5 errors. Continue?');
      // The stylesheet applied (a primary-coloured button), not blocked by the CSP.
      expect(await tab.locator('button.choice').evaluate((node) => (node as any).ownerDocument.defaultView.getComputedStyle(node).backgroundColor)).toBe('rgb(79, 70, 229)');
      expect((await t.http('GET', `/confirmations/${callbackId}`, undefined, AUTH)).body.state).toBe('pending');
      const [answer] = await Promise.all([tab.waitForNavigation(), tab.locator('button.choice').click()]);
      expect(answer?.status()).toBe(200);
      expect(answer?.request().method()).toBe('POST');
      expect(await tab.locator('h1').textContent()).toBe('Approved');
      expect((await waiting).body).toMatchObject({ state: 'confirmed', proceed: true });
      // Reloading the outcome page (the browser asks to re-send the POST) changes nothing.
      const again = await tab.goto(linkFor(links, 'reject').url);
      expect(again?.status()).toBe(409);
      expect(await tab.locator('h1').textContent()).toBe('Already decided');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
