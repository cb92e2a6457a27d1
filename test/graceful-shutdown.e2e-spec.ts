import { afterEach, describe, expect, it } from '@jest/globals';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from './support/processes.js';
import { TestClient } from './support/test-client.js';
import { notifyBody, request } from './support/test-app.js';

const MAIN = resolve('dist/main.js');
/** Outside the repo, so a developer's .env cannot change the service under test. */
const CWD = tmpdir();

interface Started {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
}

/** Starts the production build as users do, on a free port, and waits until it listens. */
async function startBuiltService(env: Record<string, string> = {}, cwd = CWD): Promise<Started> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: npm test builds it first`);
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH, WEBSOCKET_HOST: '127.0.0.1', WEBSOCKET_PORT: '0', LOG_LEVEL: 'log', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
    if (match) return { child, baseUrl: `http://127.0.0.1:${match[1]}`, output: () => output };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`service did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('graceful shutdown of the built service (real process, real signal)', () => {
  let started: Started | undefined;
  afterEach(() => {
    if (started?.child.exitCode === null) started.child.kill('SIGKILL');
  });

  it('on SIGTERM: readiness fails, clients are told and closed with 1001, waiting callers get 503, the process exits', async () => {
    started = await startBuiltService({ SHUTDOWN_GRACE_SECONDS: '5' });
    const { child, baseUrl } = started;
    expect((await request(baseUrl, 'GET', '/health')).status).toBe(200);

    const client = await TestClient.open(`${baseUrl.replace('http', 'ws')}/?user_id=alice`);
    await client.next('connected');
    const waiting = request(baseUrl, 'POST', '/notify', notifyBody('alice', 'task-1', { callback_id: 'cb-term' }));
    await client.next('task_step_result');

    const exited = once(child, 'exit');
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    // A request already on the wire may be served before a descheduled process runs its signal
    // handler (seen on a loaded machine), so readiness is asked once the signal is taken.
    await waitFor(() => started!.output().includes('SIGTERM: draining'), 5000, 'the SIGTERM to be taken');
    const readiness = await request(baseUrl, 'GET', '/health').catch(() => ({ status: 'refused' }));
    expect(readiness.status).not.toBe(200);
    const lateUpgrade = await TestClient.open(`${baseUrl.replace('http', 'ws')}/?user_id=late`).then(
      (late) => late.next('connected').then(() => 'accepted', () => 'closed at once'),
      (err: Error) => err.message,
    );
    expect(lateUpgrade).not.toBe('accepted');

    expect((await client.next('server_shutdown')).type).toBe('server_shutdown');
    expect(await client.closed).toBe(1001);
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(answer.body.callback_id).toBe('cb-term');

    const [code, signal] = await exited;
    expect(Date.now() - signalledAt).toBeLessThan(5000);
    expect(code === 0 || signal === 'SIGTERM').toBe(true);
    expect(started.output()).toContain('SIGTERM: draining');
  });

  it('leaves SIGUSR2 to heap snapshots, and drains on SIGHUP like on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-signals-'));
    try {
      started = await startBuiltService({ NODE_OPTIONS: '--heapsnapshot-signal=SIGUSR2' }, dir);
      const { child, baseUrl } = started;
      child.kill('SIGUSR2');
      const deadline = Date.now() + 15_000;
      while (!readdirSync(dir).some((name) => name.endsWith('.heapsnapshot')) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(readdirSync(dir).some((name) => name.endsWith('.heapsnapshot'))).toBe(true);
      expect((await request(baseUrl, 'GET', '/health')).status).toBe(200);

      const exited = once(child, 'exit');
      child.kill('SIGHUP');
      const [code, signal] = await exited;
      expect(code === 0 || signal === 'SIGHUP').toBe(true);
      expect(started.output()).toContain('SIGHUP: draining');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start in production without its secrets, naming the variables', async () => {
    const child = spawn(process.execPath, [MAIN], {
      cwd: CWD,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', WEBSOCKET_PORT: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(output).toContain('AUTH_MODE');
    expect(output).toContain('API_KEYS');
  });
});
