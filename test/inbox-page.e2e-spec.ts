import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { SignJWT } from 'jose';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { ConnectionService } from '../src/connections/connection.service.js';
import { underCi } from './support/system-dependency.js';
import { notifyBody, startTestApp, type TestApp } from './support/test-app.js';

/** Debian's chromium package; playwright-core drives it and downloads no browser of its own. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = resolve(process.env.INBOX_SCREENSHOT ?? 'test-results/inbox.png');
const haveChromium = existsSync(CHROMIUM);
// A browser, its pages and a service or two per test: generous on a busy machine.
jest.setTimeout(60_000);

if (!haveChromium && !underCi()) {
  console.warn(
    `\n*** SKIPPING the inbox page's browser tests: ${CHROMIUM} is missing. Install it with ` +
      '`apt-get install -y chromium` (Debian package "chromium"). CI installs it and fails without it. ***\n',
  );
}

/**
 * A header's value as docs/SECURITY.md's inbox section states it (`Name: value` in
 * backticks): the page must send what the document promises, not what the source says.
 */
function documentedHeader(name: string): string {
  const security = readFileSync('docs/SECURITY.md', 'utf8');
  const section = security.slice(security.indexOf('## The inbox page'));
  const stated = new RegExp('`' + name + ':\\s*([^`]+)`').exec(section.slice(0, section.indexOf('\n## ')));
  if (!stated) throw new Error(`docs/SECURITY.md's inbox section states no ${name}`);
  return stated[1].replace(/\s+/g, ' ').trim();
}

/** A CSS property of an element as the browser computed it. */
function computedStyle(element: Locator, property: string): Promise<string> {
  // Runs in the page; the suite's TypeScript has no DOM types.
  return element.evaluate((node, name) => (node as any).ownerDocument.defaultView.getComputedStyle(node)[name], property);
}

/** A CSP as directive name -> its sources, sorted, so the comparison is directive by directive. */
function directives(policy: string): Record<string, string[]> {
  const parsed: Record<string, string[]> = {};
  for (const directive of policy.split(';').map((part) => part.trim()).filter(Boolean)) {
    const [name, ...sources] = directive.split(/\s+/);
    parsed[name.toLowerCase()] = sources.sort();
  }
  return parsed;
}

describe('the inbox page route', () => {
  it('is served with a strict CSP in development, needs no API key, and serves only its own files', async () => {
    const t = await startTestApp({ API_KEYS: 'service-key' });
    try {
      const page = await t.http('GET', '/inbox');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(directives(csp)).toEqual(directives(documentedHeader('Content-Security-Policy')));
      expect(csp).not.toMatch(/unsafe|https?:|\*/);
      for (const name of ['X-Frame-Options', 'X-Content-Type-Options', 'Referrer-Policy']) {
        expect([name, page.headers.get(name)]).toEqual([name, documentedHeader(name)]);
      }
      expect(page.body).toContain('<meta name="inbox-auth-mode" content="none">');
      expect(page.body).not.toMatch(/<script>|<style>|style="|https?:\/\//);
      const sdk = await t.http('GET', '/inbox/sdk/index.js');
      expect(sdk.status).toBe(200);
      expect(sdk.headers.get('content-type')).toMatch(/^text\/javascript/);
      for (const path of ['/inbox/assets/..%2F..%2Fpackage.json', '/inbox/assets/nothing.js', '/inbox/sdk/client.d.ts']) {
        const missing = await t.http('GET', path);
        expect(missing.status).toBe(404);
      }
      expect((await t.http('GET', '/status')).status).toBe(401); // the rest still needs the key
    } finally {
      await t.close();
    }
  });

  it('is off in production unless INBOX_PAGE_ENABLED=true', async () => {
    const production = { NODE_ENV: 'production', AUTH_MODE: 'jwt', JWT_SECRET: 'x'.repeat(40), API_KEYS: 'k' };
    const off = await startTestApp(production);
    try {
      expect((await off.http('GET', '/inbox')).body).toMatchObject({ statusCode: 404, code: 'not_found' });
    } finally {
      await off.close();
    }
    const on = await startTestApp({ ...production, INBOX_PAGE_ENABLED: 'true' });
    try {
      const page = await on.http('GET', '/inbox');
      expect(page.status).toBe(200);
      expect(page.body).toContain('content="jwt"');
    } finally {
      await on.close();
    }
    const offInDevelopment = await startTestApp({ INBOX_PAGE_ENABLED: 'false' });
    try {
      expect((await offInDevelopment.http('GET', '/inbox/sdk/index.js')).status).toBe(404);
    } finally {
      await offInDevelopment.close();
    }
  });
});

const browserDescribe = haveChromium || underCi() ? describe : describe.skip;

browserDescribe('the inbox page in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  /**
   * Set while a test has cut a page off on purpose: stopped, or is stopping, the service it
   * uses, or taken the browser offline. Chromium then logs each failed socket as a console
   * error, and how it fails depends on timing: refused once the service is gone, reset or
   * answered 503 while it drains, no network. Any other time a failed socket is a fault.
   */
  let cutOff = false;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`CI is set and ${CHROMIUM} is missing: install the Debian package "chromium" (.ci/run does)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    t = await startTestApp();
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    cutOff = false;
    // CSP violations and script errors show up here: none is acceptable.
    expect(problems.splice(0)).toEqual([]);
  });

  /** A fresh browser profile (a tab) with the user's inbox open and connected. */
  async function openInbox(query: string, base = t.baseUrl): Promise<Page> {
    const page = await newTab(base);
    await page.goto(`${base}/inbox${query}`);
    await page.waitForSelector('#connection[data-state="connected"]');
    return page;
  }

  /** A fresh browser profile with one blank tab, watched for errors and foreign requests. */
  async function newTab(base: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('console', (message) => {
      const expected = cutOff && /^WebSocket connection to .* failed: /.test(message.text());
      if (message.type() === 'error' && !expected) problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith(base.replace('http', 'ws'))) problems.push(`foreign request: ${request.url()}`);
    });
    return page;
  }

  /** When each socket of a test's own services opened, for stopService(). */
  const socketsOf = new WeakMap<TestApp, Map<Socket, number>>();

  async function startService(env: Record<string, unknown> = {}): Promise<TestApp> {
    const app = await startTestApp(env);
    const sockets = new Map<Socket, number>();
    app.app.getHttpServer().on('connection', (socket: Socket) => {
      sockets.set(socket, Date.now());
      socket.once('close', () => sockets.delete(socket));
    });
    socketsOf.set(app, sockets);
    return app;
  }

  /**
   * Stops a service the pages used: their failing reconnects are expected until `reconnected()`.
   * Chromium opens spare connections ahead of need, and the HTTP server's close waits for one
   * that never sends a request until Node's headersTimeout (a minute): those are cut off.
   */
  async function stopService(app: TestApp): Promise<void> {
    cutOff = true;
    const sweep = setInterval(() => {
      for (const [socket, openedAt] of socketsOf.get(app) ?? []) {
        if (socket.bytesRead === 0 && Date.now() - openedAt > 1000) socket.destroy();
      }
    }, 250);
    try {
      await app.close();
    } finally {
      clearInterval(sweep);
    }
  }

  /**
   * Takes the page's browser offline. An open socket outlives emulated offline, so the
   * service drops the user's sockets too; the page's reconnects then fail until `backOnline()`.
   */
  async function goOffline(page: Page, app: TestApp, userId: string): Promise<void> {
    cutOff = true;
    await page.context().setOffline(true);
    for (const connection of [...app.app.get(ConnectionService).connectionsOfUser(userId)]) connection.socket.terminate();
    await page.waitForSelector('#connection[data-state="reconnecting"]');
  }

  async function backOnline(page: Page): Promise<void> {
    await page.context().setOffline(false);
    await reconnected(page);
  }

  /** The page is connected again: from now on a failed socket is a fault again. */
  async function reconnected(page: Page): Promise<void> {
    await page.waitForSelector('#connection[data-state="connected"]', { timeout: 15_000 });
    cutOff = false;
  }

  const card = (page: Page, callbackId: string) => page.locator(`article[data-callback-id="${callbackId}"]`);

  it('shows a prompt from POST /notify; Proceed with feedback gives the waiting caller proceed and that feedback', async () => {
    const page = await openInbox('?user_id=alice');
    expect(await page.locator('#connection-label').textContent()).toMatch(/Connected · \d+ ms/);
    const decision = t.http('POST', '/notify', notifyBody('alice', 'task-1', { callback_id: 'page-1', timeout_seconds: 600 }));
    const prompt = card(page, 'page-1');
    await prompt.waitFor();
    expect(await prompt.locator('.step-name').textContent()).toBe('data_validation');
    expect(await prompt.locator('.message').first().textContent()).toBe('Validation finished with 5 errors. Continue?');
    expect(await prompt.locator('table tr').allTextContents()).toEqual(['Validated rows1,000', 'Errors5']);
    expect(await prompt.locator('.countdown').textContent()).toMatch(/^Times out in (10:00|9:5\d)$/);
    expect(await page.locator('#prompt-count').textContent()).toBe('1');

    await prompt.getByLabel('Feedback').fill('Only the 995 valid rows, please');
    await prompt.getByRole('button', { name: 'Proceed' }).click();
    expect((await decision).body).toMatchObject({ callback_id: 'page-1', state: 'confirmed', proceed: true, feedback: 'Only the 995 valid rows, please' });
    await prompt.waitFor({ state: 'detached' });
    expect(await page.locator('#empty').isVisible()).toBe(true);
  });

  it('Cancel gives proceed: false, and a second tab sees the card leave', async () => {
    const [first, second] = [await openInbox('?user_id=bob'), await openInbox('?user_id=bob')];
    const decision = t.http('POST', '/notify', notifyBody('bob', 'task-2', { callback_id: 'page-2' }));
    await card(first, 'page-2').waitFor();
    await card(second, 'page-2').waitFor();
    await card(first, 'page-2').getByRole('button', { name: 'Cancel' }).click();
    expect((await decision).body).toMatchObject({ state: 'rejected', proceed: false, feedback: null });
    await card(second, 'page-2').waitFor({ state: 'detached' });
    await card(first, 'page-2').waitFor({ state: 'detached' });
  });

  it('shows a failed step with its error code and message, and a nested result as JSON', async () => {
    const page = await openInbox('?user_id=carol');
    await t.http('POST', '/notify?wait=false', {
      user_id: 'carol',
      task_id: 'train-7',
      step: 2,
      callback_id: 'page-3',
      step_result: {
        step: 'model_training', message: 'Out of memory. Retry?', status: 'failed',
        error_code: 'E003', error_message: 'GPU memory exhausted', result: { epoch: 7, checkpoint: { path: 'ckpt/7' } },
      },
    });
    const prompt = card(page, 'page-3');
    await prompt.waitFor();
    expect(await prompt.getAttribute('class')).toContain('failed');
    expect(await prompt.locator('.error-box').textContent()).toBe('E003GPU memory exhausted');
    expect(JSON.parse((await prompt.locator('pre').textContent())!)).toEqual({ epoch: 7, checkpoint: { path: 'ckpt/7' } });
  });

  it('moves the progress bar, shows heartbeats and notices, and cancels a task', async () => {
    const page = await openInbox('?user_id=dave');
    await t.http('POST', '/notify?wait=false', notifyBody('dave', 'task-p', { callback_id: 'page-4' }));
    const row = page.locator('li.task[data-task-id="task-p"]');
    await page.locator('li.task[data-task-id="task-p"][data-following="true"]').waitFor();
    await t.http('POST', '/tasks/task-p/messages', { type: 'task_progress', progress: 40, message: 'Loading rows' });
    await row.locator('[role="progressbar"][aria-valuenow="40"]').waitFor();
    expect(await row.locator('.task-message').textContent()).toBe('Loading rows');

    await t.http('POST', '/heartbeats', { user_id: 'dave', task_id: 'task-p', interval_seconds: 60 });
    await row.locator('.beat.alive').waitFor();
    expect(await row.locator('.beat').textContent()).toMatch(/^Still running/);

    await t.http('POST', '/broadcast', { type: 'system_notification', message: 'Maintenance at 23:00', severity: 'warning' });
    const notice = page.locator('li.notice[data-severity="warning"]');
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/Maintenance at 23:00.*warning/i);

    const cancel = row.getByRole('button', { name: 'Cancel task' });
    await cancel.click();
    await row.getByRole('button', { name: 'Confirm cancel' }).click();
    await page.locator('li.task.cancelled[data-task-id="task-p"]').waitFor();
    await card(page, 'page-4').waitFor({ state: 'detached' }); // cancelling settles the task's prompts
    expect((await t.http('GET', '/tasks/task-p')).body).toMatchObject({ cancelled: true, cancelled_by: 'dave' });
  });

  it('recovers by itself after the service restarts', async () => {
    const first = await startService();
    const port = Number(new URL(first.baseUrl).port);
    const page = await openInbox('?user_id=erin', first.baseUrl);
    await stopService(first);
    await page.waitForSelector('#connection[data-state="reconnecting"]');
    expect(await page.locator('#connection-label').textContent()).toBe('Reconnecting…');
    const second = await startService({ WEBSOCKET_PORT: port });
    try {
      await reconnected(page);
      await second.http('POST', '/notify?wait=false', notifyBody('erin', 'task-r', { callback_id: 'page-5' }));
      await card(page, 'page-5').waitFor();
    } finally {
      await stopService(second);
    }
  }, 90_000);

  it('runs the SDK in the browser, which retries at once when the browser comes back online', async () => {
    const first = await startService();
    const port = Number(new URL(first.baseUrl).port);
    const page = await openInbox('?user_id=hana', first.baseUrl);
    // A second client in the page (code as text: the tests compile without DOM types), with
    // a back-off so long that only the `online` event can bring it back soon. Predicates are
    // functions: the page's CSP refuses to evaluate strings.
    const probeIs = (state: string) => (globalThis as any).probe.state === state;
    // Jitter pinned to the middle: the probe's next retry is five minutes away, every time.
    await page.evaluate(`(async () => {
      Math.random = () => 0.5;
      const { GatewayClient } = await import('/inbox/sdk/index.js');
      window.probe = new GatewayClient({ url: 'ws://' + location.host + '/ws', userId: 'hana', reconnect: { baseDelayMs: 600000, maxDelayMs: 600000 } });
      window.probeStates = [];
      window.probe.on('state', (change) => window.probeStates.push({ ...change, at: Date.now() }));
      window.probe.connect();
    })()`);
    await page.waitForFunction(probeIs, 'connected');
    await stopService(first);
    await page.waitForFunction(() => (globalThis as any).probeStates.some((s: { retryInMs?: number }) => s.retryInMs !== undefined));
    const second = await startService({ WEBSOCKET_PORT: port });
    try {
      expect(await page.evaluate(`window.probe.state`)).toBe('disconnected');
      const onlineAt = (await page.evaluate(`window.dispatchEvent(new Event('online')), Date.now()`)) as number;
      await page.waitForFunction(probeIs, 'connected', { timeout: 5000 });
      const waits = (await page.evaluate(`window.probeStates.filter((s) => s.retryInMs !== undefined)`)) as Array<{ retryInMs: number; at: number }>;
      const last = waits[waits.length - 1];
      // Without `online` the client would have waited five minutes.
      expect(last.retryInMs).toBeGreaterThan(60_000);
      expect(onlineAt - last.at).toBeLessThan(last.retryInMs);
      await page.evaluate(`window.probe.disconnect()`);
      await reconnected(page); // the page's own client came back on the same `online`
    } finally {
      await stopService(second);
    }
  }, 90_000);

  it('shows a notice and progress sent while it was briefly offline once each', async () => {
    const page = await openInbox('?user_id=jade');
    await t.http('POST', '/notify?wait=false', notifyBody('jade', 'task-o', { callback_id: 'page-7' }));
    const row = page.locator('li.task[data-task-id="task-o"]');
    await page.locator('li.task[data-task-id="task-o"][data-following="true"]').waitFor();
    await t.http('POST', '/tasks/task-o/messages', { type: 'task_progress', progress: 10 });
    await row.locator('[role="progressbar"][aria-valuenow="10"]').waitFor();
    // Every progress update the row gets from now on, a repeat of the same value included.
    await page.evaluate(`(() => {
      window.progressShown = [];
      const bar = document.querySelector('li.task[data-task-id="task-o"] [role="progressbar"]');
      new MutationObserver((records) => {
        for (const record of records) window.progressShown.push(bar.getAttribute('aria-valuenow'));
      }).observe(bar, { attributeFilter: ['aria-valuenow'] });
    })()`);

    await goOffline(page, t, 'jade');
    await t.http('POST', '/users/jade/messages', { type: 'personal_notification', message: 'Sent while you were offline' });
    await t.http('POST', '/tasks/task-o/messages', { type: 'task_progress', progress: 60, message: 'Halfway' });
    await backOnline(page);
    // Live frames come after the catch-up: once they show, everything missed has arrived.
    await t.http('POST', '/users/jade/messages', { type: 'personal_notification', message: 'Back online' });
    await t.http('POST', '/tasks/task-o/messages', { type: 'task_progress', progress: 90 });
    await page.locator('li.notice', { hasText: 'Back online' }).waitFor();
    await row.locator('[role="progressbar"][aria-valuenow="90"]').waitFor();

    expect(await page.locator('li.notice', { hasText: 'Sent while you were offline' }).count()).toBe(1);
    expect(await page.evaluate(`window.progressShown`)).toEqual(['60', '90']);
    expect(await row.locator('.task-message').textContent()).toBe('Halfway');
    expect(await card(page, 'page-7').count()).toBe(1);
    expect(await page.locator('#missed-updates').isHidden()).toBe(true);
  });

  it('says so when it comes back beyond the kept history, and shows the prompts still waiting', async () => {
    const small = await startService({ HISTORY_SIZE: 3 });
    const page = await openInbox('?user_id=iris', small.baseUrl);
    try {
      await goOffline(page, small, 'iris');
      await small.http('POST', '/notify?wait=false', notifyBody('iris', 'task-m', { callback_id: 'page-8' }));
      for (let i = 1; i <= 5; i++) await small.http('POST', '/users/iris/messages', { type: 'personal_notification', message: `Away ${i}` });
      await backOnline(page);

      const banner = page.locator('#missed-updates');
      await banner.waitFor();
      expect(await banner.textContent()).toContain('Some updates may have been missed while offline');
      await card(page, 'page-8').waitFor(); // out of the history, but still pending: sent again
      expect(await page.locator('li.notice').allTextContents()).toEqual([
        expect.stringContaining('Away 5'), expect.stringContaining('Away 4'), expect.stringContaining('Away 3'),
      ]);
      await banner.getByRole('button', { name: 'Dismiss' }).click();
      await banner.waitFor({ state: 'hidden' });
    } finally {
      await page.context().close(); // no reconnects to the closing service
      await stopService(small);
    }
  });

  const JWT_TEST_SECRET = 'an-inbox-test-secret-that-is-long-enough';

  function signToken(sub: string, secret = JWT_TEST_SECRET): Promise<string> {
    return new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
  }

  /**
   * Runs `test` against a service in AUTH_MODE=jwt. The tab it opened goes first: one still
   * open would try to reconnect to the closing service.
   */
  async function withJwtService(test: (jwt: TestApp, opened: (page: Page) => Page) => Promise<void>): Promise<void> {
    const jwt = await startService({ AUTH_MODE: 'jwt', JWT_SECRET: JWT_TEST_SECRET });
    let page: Page | undefined;
    try {
      await test(jwt, (tab) => (page = tab));
    } finally {
      await page?.context().close();
      await stopService(jwt);
    }
  }

  it('connects with ?token= under AUTH_MODE=jwt and takes the token out of the address bar', async () => {
    await withJwtService(async (jwt, opened) => {
      const token = await signToken('frank');
      const page = opened(await openInbox(`?token=${token}`, jwt.baseUrl));
      expect(page.url()).toBe(`${jwt.baseUrl}/inbox`);
      expect(await page.locator('#who').textContent()).toBe('Signed in as frank');
      // The page offers gateway.v1 beside its token: that is selected, the token never shown.
      const listing = await jwt.http('GET', '/connections?user_id=frank');
      expect(listing.body.connections.map((c: { protocol: string | null }) => c.protocol)).toEqual(['gateway.v1']);
      expect(JSON.stringify(listing.body)).not.toContain(token);
      await jwt.http('POST', '/notify?wait=false', notifyBody('frank', 'task-j', { callback_id: 'page-6' }));
      await card(page, 'page-6').waitFor();
    });
  });

  it('signs in with a token typed into its Token field under AUTH_MODE=jwt', async () => {
    await withJwtService(async (jwt, opened) => {
      const token = await signToken('kai');
      const page = opened(await newTab(jwt.baseUrl));
      await page.goto(`${jwt.baseUrl}/inbox`);
      const field = page.getByLabel('Token');
      await field.waitFor();
      expect(await page.locator('#app').isHidden()).toBe(true);
      expect(await field.getAttribute('type')).toBe('password');
      await field.fill(token);
      await page.getByRole('button', { name: 'Open inbox' }).click();
      await page.waitForSelector('#connection[data-state="connected"]');
      expect(await page.locator('#sign-in').isHidden()).toBe(true);
      expect(await page.locator('#who').textContent()).toBe('Signed in as kai');
      expect(page.url()).toBe(`${jwt.baseUrl}/inbox`);
      await jwt.http('POST', '/notify?wait=false', notifyBody('kai', 'task-k', { callback_id: 'page-9' }));
      await card(page, 'page-9').waitFor();
    });
  });

  it('asks for another token when the service refuses the one it has, instead of retrying forever', async () => {
    await withJwtService(async (jwt, opened) => {
      const forged = await signToken('kai', 'some-other-secret-that-is-long-enough');
      const page = opened(await newTab(jwt.baseUrl));
      await page.goto(`${jwt.baseUrl}/inbox?token=${forged}`);
      await page.getByText('That access token was refused').waitFor();
      expect(await page.locator('#sign-in').isHidden()).toBe(false);
      expect(await page.locator('#connection').getAttribute('data-state')).toBe('stopped');
      expect((await jwt.http('GET', '/status')).body.refused_connections.unauthorized).toBe(2); // the token, then one retry
    });
  });

  it("shows each task's state, moves the bar only while it runs, and lets finished and cancelled tasks be dismissed", async () => {
    const page = await openInbox('?user_id=heidi');
    const row = (taskId: string) => page.locator(`li.task[data-task-id="${taskId}"]`);
    const stateOf = async (taskId: string) => ({
      state: await row(taskId).getAttribute('data-state'),
      label: await row(taskId).locator('.task-state').textContent(),
      barAnimation: await row(taskId).locator('.bar-fill').evaluate((fill) => (globalThis as any).getComputedStyle(fill).animationName as string),
      buttons: await row(taskId).locator('button:visible').allTextContents(),
    });
    const waitForState = (taskId: string, state: string) => page.locator(`li.task[data-task-id="${taskId}"][data-state="${state}"]`).waitFor();

    // Asked: waiting for the user, the bar still.
    const proceed = t.http('POST', '/notify', notifyBody('heidi', 'task-a', { callback_id: 'state-1' }));
    await card(page, 'state-1').waitFor();
    await waitForState('task-a', 'waiting');
    expect(await stateOf('task-a')).toEqual({ state: 'waiting', label: 'Waiting for you', barAnimation: 'none', buttons: ['Cancel task'] });

    // Beating, no prompt: running, the bar moves.
    await t.http('POST', '/heartbeats', { user_id: 'heidi', task_id: 'task-r', interval_seconds: 60 });
    await waitForState('task-r', 'running');
    expect(await stateOf('task-r')).toEqual({ state: 'running', label: 'Running', barAnimation: 'slide', buttons: ['Cancel task'] });

    // Answered Proceed, nothing heard since: finished, the bar full and still, dismissable.
    await card(page, 'state-1').getByRole('button', { name: 'Proceed' }).click();
    expect((await proceed).body).toMatchObject({ state: 'confirmed' });
    await waitForState('task-a', 'finished');
    expect(await stateOf('task-a')).toEqual({ state: 'finished', label: 'Finished', barAnimation: 'none', buttons: ['Dismiss'] });

    // Answered Cancel: the task stops.
    const reject = t.http('POST', '/notify', notifyBody('heidi', 'task-b', { callback_id: 'state-2' }));
    await card(page, 'state-2').getByRole('button', { name: 'Cancel' }).click();
    expect((await reject).body).toMatchObject({ state: 'rejected' });
    await waitForState('task-b', 'cancelled');
    expect(await stateOf('task-b')).toEqual({ state: 'cancelled', label: 'Cancelled', barAnimation: 'none', buttons: ['Dismiss'] });

    // Progress at 100 %: finished; progress after an answer: the task went on.
    await t.http('POST', '/users/heidi/messages', { type: 'task_progress', task_id: 'task-c', progress: 100, message: 'Done' });
    await waitForState('task-c', 'finished');
    await t.http('POST', '/users/heidi/messages', { type: 'task_progress', task_id: 'task-a', progress: 50, message: 'Loading rows' });
    await waitForState('task-a', 'running');
    expect(await stateOf('task-a')).toMatchObject({ label: 'Running', barAnimation: 'none', buttons: ['Cancel task'] });

    // Dismissed tasks leave the panel; the others stay.
    await row('task-b').getByRole('button', { name: 'Dismiss task-b' }).click();
    await row('task-c').getByRole('button', { name: 'Dismiss task-c' }).click();
    await row('task-b').waitFor({ state: 'detached' });
    await row('task-c').waitFor({ state: 'detached' });
    expect(await page.locator('li.task').evaluateAll((rows) => rows.map((li: any) => `${li.dataset.taskId} ${li.dataset.state}`))).toEqual([
      'task-r running',
      'task-a running',
    ]);
    expect(await page.locator('#no-tasks').isVisible()).toBe(false);
  });

  it('cancelling a task from its row shows it cancelled, the bar still, and dismissing the last task empties the panel', async () => {
    const page = await openInbox('?user_id=ivan');
    await t.http('POST', '/notify?wait=false', notifyBody('ivan', 'task-x', { callback_id: 'state-3' }));
    const row = page.locator('li.task[data-task-id="task-x"]');
    await row.getByRole('button', { name: 'Cancel task' }).click();
    await row.getByRole('button', { name: 'Confirm cancel' }).click();
    await page.locator('li.task[data-task-id="task-x"][data-state="cancelled"]').waitFor();
    expect(await row.locator('.task-state').textContent()).toBe('Cancelled');
    expect(await row.locator('.beat').textContent()).toBe('Cancelled by ivan');
    expect(await row.locator('.bar-fill').evaluate((fill) => (globalThis as any).getComputedStyle(fill).animationName as string)).toBe('none');
    await row.getByRole('button', { name: 'Dismiss task-x' }).click();
    await row.waitFor({ state: 'detached' });
    expect(await page.locator('#no-tasks').isVisible()).toBe(true);
  });

  it('screenshot of the Tasks panel with a task in each state', async () => {
    const page = await openInbox('?user_id=judy');
    await t.http('POST', '/notify?wait=false', {
      user_id: 'judy', task_id: 'import-2291', step: 3, timeout_seconds: 900,
      step_result: { step: 'data_validation', message: 'Validation finished: 5 of 1,000 rows failed. Continue with the 995 valid rows?', status: 'completed', completed: true, result: { validated_rows: 1000, errors: 5 } },
    });
    await page.locator('li.task[data-task-id="import-2291"][data-following="true"]').waitFor();
    await t.http('POST', '/tasks/import-2291/messages', { type: 'task_progress', progress: 62, message: 'Loading rows' });
    await t.http('POST', '/heartbeats', { user_id: 'judy', task_id: 'train-77', interval_seconds: 30, message: 'epoch 8 of 20' });
    await t.http('POST', '/users/judy/messages', { type: 'task_progress', task_id: 'report-nov', progress: 100, message: 'Report ready' });
    const answered = t.http('POST', '/notify', notifyBody('judy', 'export-12', { callback_id: 'state-4' }));
    await card(page, 'state-4').getByRole('button', { name: 'Cancel' }).click();
    await answered;
    const states = { 'import-2291': 'waiting', 'train-77': 'running', 'report-nov': 'finished', 'export-12': 'cancelled' };
    for (const [taskId, state] of Object.entries(states)) await page.locator(`li.task[data-task-id="${taskId}"][data-state="${state}"]`).waitFor();
    await page.waitForTimeout(500); // let the bar's transition finish
    const path = resolve(dirname(SCREENSHOT), 'inbox-task-states.png');
    mkdirSync(dirname(path), { recursive: true });
    await page.screenshot({ path, fullPage: true });
    expect(existsSync(path)).toBe(true);
  });

  it('never puts the token in the socket URL, and asks for a new token when the session expires (4001)', async () => {
    await withJwtService(async (jwt, opened) => {
      const page = opened(await newTab(jwt.baseUrl));
      const socketUrls: string[] = [];
      page.on('websocket', (socket) => socketUrls.push(socket.url()));
      // Signed once the tab is open, and long enough for a loaded CI machine to load the page
      // and connect before it expires (3 s was not: the handshake itself was refused).
      const key = new TextEncoder().encode(JWT_TEST_SECRET);
      const shortLived = await new SignJWT({ sub: 'lena' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Math.floor(Date.now() / 1000) + 8).sign(key);
      await page.goto(`${jwt.baseUrl}/inbox?token=${shortLived}`);
      await page.waitForSelector('#connection[data-state="connected"]');
      await page.getByText('Your session expired. Paste a new access token to continue.').waitFor({ timeout: 20_000 });
      expect(await page.locator('#sign-in').isHidden()).toBe(false);
      expect(socketUrls.length).toBeGreaterThan(0);
      for (const url of socketUrls) {
        expect(url).not.toContain(shortLived);
        expect(new URL(url).searchParams.has('token')).toBe(false);
      }
      // A new token typed in opens the inbox again, still not through the URL.
      await page.getByLabel('Token').fill(await signToken('lena'));
      await page.getByRole('button', { name: 'Open inbox' }).click();
      await page.waitForSelector('#connection[data-state="connected"]');
      expect(await page.locator('#who').textContent()).toBe('Signed in as lena');
      for (const url of socketUrls) expect(new URL(url).searchParams.has('token')).toBe(false);
    });
  });

  it('looks like a product: screenshot of a busy inbox', async () => {
    const page = await openInbox('?user_id=grace');
    await t.http('POST', '/notify?wait=false', {
      user_id: 'grace', task_id: 'import-2291', step: 3, timeout_seconds: 900,
      step_result: {
        step: 'data_validation', message: 'Validation finished: 5 of 1,000 rows failed. Continue with the 995 valid rows?', status: 'completed', completed: true,
        result: { validated_rows: 1000, valid_rows: 995, errors: 5, source: 'customers_2026-11.csv' },
      },
    });
    await t.http('POST', '/notify?wait=false', {
      user_id: 'grace', task_id: 'train-77', step: 2, timeout_seconds: 240,
      step_result: {
        step: 'model_training', message: 'Training stopped: the GPU ran out of memory. Retry with batch size 16?', status: 'failed',
        error_code: 'E003', error_message: 'CUDA out of memory (needed 10.2 GiB, 7.8 GiB free)',
        result: { epoch: 7, batch_size: 32, last_loss: 0.4172, checkpoint: { path: 'ckpt/epoch-7', size_mb: 812 } },
      },
    });
    await page.locator('li.task[data-task-id="import-2291"][data-following="true"]').waitFor();
    await t.http('POST', '/tasks/import-2291/messages', { type: 'task_progress', progress: 62, message: 'Loading rows' });
    await t.http('POST', '/heartbeats', { user_id: 'grace', task_id: 'train-77', interval_seconds: 30 });
    await t.http('POST', '/broadcast', { type: 'system_notification', message: 'Scheduled maintenance tonight at 23:00 UTC (about 10 minutes).', severity: 'warning' });
    await t.http('POST', '/users/grace/messages', { type: 'personal_notification', message: 'Report "November churn" is ready.', severity: 'success' });
    await page.locator('li.notice').nth(1).waitFor();
    await page.locator('[role="progressbar"][aria-valuenow="62"]').waitFor();
    await page.waitForTimeout(500); // let the bar's transition finish

    // What a person sees: the stylesheet applied, both prompts as cards with their text, the
    // failed one marked, the bar filled to 62 %, both notices.
    expect(await computedStyle(page.locator('body'), 'fontFamily')).toMatch(/^system-ui/);
    const cards = page.locator('article[data-callback-id]');
    expect(await cards.count()).toBe(2);
    for (const text of ['Continue with the 995 valid rows?', 'Retry with batch size 16?', 'CUDA out of memory', 'Scheduled maintenance tonight', 'November churn']) {
      expect([text, await page.getByText(text).first().isVisible()]).toEqual([text, true]);
    }
    const boxes = await Promise.all([0, 1].map(async (i) => (await cards.nth(i).boundingBox())!));
    for (const box of boxes) {
      expect(box.width).toBeGreaterThan(400);
      expect(box.height).toBeGreaterThan(80);
    }
    const [upper, lower] = [...boxes].sort((a, b) => a.y - b.y);
    expect(lower.y).toBeGreaterThanOrEqual(upper.y + upper.height); // stacked, not overlapping
    const failed = cards.filter({ hasText: 'Retry with batch size 16?' });
    expect(await computedStyle(failed, 'borderLeftWidth')).toBe('4px');
    const bar = (await page.locator('[role="progressbar"][aria-valuenow="62"]').boundingBox())!;
    const fill = (await page.locator('[role="progressbar"][aria-valuenow="62"] .bar-fill').boundingBox())!;
    expect(fill.width / bar.width).toBeCloseTo(0.62, 1);
    expect(await page.locator('li.notice').count()).toBe(2);

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1280); // IHDR width: the whole viewport
    expect(png.readUInt32BE(20)).toBeGreaterThanOrEqual(860);
  });
  // --- approvals (issue 21): options, forms, votes, reminders -----------------------------

  const DEPLOY_FORM = {
    type: 'object',
    title: 'Deployment',
    properties: {
      service: { type: 'string', title: 'Service', default: 'api', maxLength: 40 },
      replicas: { type: 'integer', title: 'Replicas', description: 'Between 1 and 10', minimum: 1, maximum: 10, default: 3 },
      region: { type: 'string', title: 'Region', enum: ['eu', 'us'], enumNames: ['Europe', 'United States'], default: 'eu' },
      canary: { type: 'boolean', title: 'Canary first', default: false },
      checks: { type: 'array', title: 'Checks', items: { type: 'string', enum: ['smoke', 'load', 'security'] }, default: ['smoke'] },
      note: { type: 'string', title: 'Note' },
    },
    required: ['service', 'replicas', 'region'],
  };
  const DEPLOY_OPTIONS = [
    { id: 'ship', label: 'Ship it', proceed: true },
    { id: 'hold', label: 'Hold', description: 'Try again on Monday', proceed: false },
  ];

  it('shows options as buttons and the form as labelled controls with its defaults; the edited values are approved', async () => {
    const page = await openInbox('?user_id=fiona');
    const decision = t.http('POST', '/notify', notifyBody('fiona', 'deploy-1', { callback_id: 'page-form-1', options: DEPLOY_OPTIONS, form: DEPLOY_FORM }));
    const prompt = card(page, 'page-form-1');
    await prompt.waitFor();
    expect(await prompt.getByRole('group', { name: 'Deployment' }).count()).toBe(1);
    // In the task service's order.
    expect(await prompt.getByRole('button').allTextContents()).toEqual(['Ship it', 'Hold']);
    expect(await prompt.getByRole('button', { name: 'Hold' }).getAttribute('aria-describedby')).toBeTruthy();
    expect(await prompt.getByText('Try again on Monday').isVisible()).toBe(true);

    const service = prompt.getByLabel('Service');
    const replicas = prompt.getByLabel('Replicas');
    const region = prompt.getByLabel('Region');
    const canary = prompt.getByLabel('Canary first');
    const checks = prompt.getByLabel('Checks');
    expect([await service.inputValue(), await replicas.inputValue(), await region.inputValue()]).toEqual(['api', '3', 'eu']);
    expect(await canary.isChecked()).toBe(false);
    expect(await checks.evaluate((node) => [...(node as any).selectedOptions].map((o: any) => o.value))).toEqual(['smoke']);
    expect(await region.locator('option').allTextContents()).toEqual(['Europe', 'United States']);
    // Required fields are marked for people and for assistive technology; bounds are on the control.
    for (const required of [service, replicas, region]) expect(await required.evaluate((node) => (node as any).required)).toBe(true);
    expect(await prompt.getByLabel('Note').evaluate((node) => (node as any).required)).toBe(false);
    expect(await prompt.locator('label', { hasText: 'Replicas' }).locator('.required').textContent()).toBe(' *');
    expect([await replicas.getAttribute('type'), await replicas.getAttribute('min'), await replicas.getAttribute('max')]).toEqual(['number', '1', '10']);
    expect(await replicas.getAttribute('aria-describedby')).toBe(await prompt.getByText('Between 1 and 10').getAttribute('id'));

    await replicas.fill('6');
    await region.selectOption('us');
    await canary.check();
    await checks.selectOption(['smoke', 'security']);
    await prompt.getByRole('button', { name: 'Ship it' }).click();
    expect((await decision).body).toMatchObject({
      state: 'confirmed',
      proceed: true,
      option: 'ship',
      decided_by: 'fiona',
      data: { service: 'api', replicas: 6, region: 'us', canary: true, checks: ['smoke', 'security'] },
    });
    await prompt.waitFor({ state: 'detached' });
  });

  it("shows the server's refusal of a form value next to its field, then accepts the corrected answer", async () => {
    const page = await openInbox('?user_id=gwen');
    const decision = t.http('POST', '/notify', notifyBody('gwen', 'deploy-2', { callback_id: 'page-form-2', form: DEPLOY_FORM }));
    const prompt = card(page, 'page-form-2');
    await prompt.waitFor();
    const replicas = prompt.getByLabel('Replicas');
    await replicas.fill('11');
    await prompt.getByRole('button', { name: 'Proceed' }).click();

    const error = prompt.locator('.field[data-field="replicas"] .field-error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toMatch(/10/);
    expect(await replicas.getAttribute('aria-invalid')).toBe('true');
    expect((await replicas.getAttribute('aria-describedby'))!.split(' ')).toContain(await error.getAttribute('id'));
    expect(await prompt.locator('.card-error').isVisible()).toBe(false);
    expect(await prompt.getByRole('button', { name: 'Proceed' }).isEnabled()).toBe(true);

    await replicas.fill('10');
    await prompt.getByRole('button', { name: 'Proceed' }).click();
    expect((await decision).body).toMatchObject({ state: 'confirmed', data: { replicas: 10, region: 'eu' } });
    await prompt.waitFor({ state: 'detached' });
  });

  it('a quorum of two in two browsers: the first vote shows in the other, the second settles', async () => {
    const [hana, ivan] = [await openInbox('?user_id=hana'), await openInbox('?user_id=ivan')];
    const body = notifyBody('ops-bot', 'deploy-3', { callback_id: 'page-quorum', approvers: { users: ['hana', 'ivan', 'jack'] }, policy: 'quorum', quorum: 2 });
    const decision = t.http('POST', '/notify', body);
    const atHana = card(hana, 'page-quorum');
    const atIvan = card(ivan, 'page-quorum');
    await atHana.waitFor();
    await atIvan.waitFor();
    expect(await atIvan.locator('.votes-summary').textContent()).toBe('Needs 2 approvals of 3 · no votes yet');

    await atHana.getByRole('button', { name: 'Proceed' }).click();
    await atHana.getByText('Your vote is in').waitFor();
    expect(await atHana.getByRole('button', { name: 'Proceed' }).isDisabled()).toBe(true);
    await atIvan.locator('.vote[data-user-id="hana"]').waitFor();
    expect(await atIvan.locator('.vote').allTextContents()).toEqual(['hana approved']);
    expect(await atIvan.locator('.votes-summary').textContent()).toBe('Needs 2 approvals of 3 · 1 more approval needed');

    await atIvan.getByRole('button', { name: 'Proceed' }).click();
    expect((await decision).body).toMatchObject({ state: 'confirmed', decided_by: 'ivan', votes: [{ user_id: 'hana', proceed: true }, { user_id: 'ivan', proceed: true }] });
    await atHana.waitFor({ state: 'detached' });
    await atIvan.waitFor({ state: 'detached' });
  });

  it('marks a prompt shown again by a reminder', async () => {
    const page = await openInbox('?user_id=kira');
    const decision = t.http('POST', '/notify', notifyBody('kira', 'deploy-4', { callback_id: 'page-reminder', reminders: { every_seconds: 1, max: 2 } }));
    const prompt = card(page, 'page-reminder');
    await prompt.waitFor();
    const badge = prompt.locator('.reminder-badge');
    await badge.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await badge.textContent()).toMatch(/^Reminder( \d)?$/);
    expect(await prompt.getAttribute('data-reminder')).toMatch(/^[12]$/);
    expect(await page.locator('article[data-callback-id="page-reminder"]').count()).toBe(1);
    await prompt.getByRole('button', { name: 'Cancel' }).click();
    expect((await decision).body).toMatchObject({ state: 'rejected' });
  });
});
