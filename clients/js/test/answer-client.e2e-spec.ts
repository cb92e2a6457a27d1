import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { notifyBody, sleep, startTestApp, type TestApp } from '../../../test/support/test-app.js';

const EXAMPLE = resolve('examples/answer-client.mjs');

describe('examples/answer-client.mjs (on the SDK)', () => {
  let t: TestApp;
  let child: ChildProcess | undefined;
  let output = '';
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterEach(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });
  afterAll(() => t.close());

  async function outputMatching(pattern: RegExp, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(output)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in the example's output:\n${output}`);
      if (child?.exitCode !== null) throw new Error(`the example exited (${child?.exitCode}):\n${output}`);
      await sleep(25);
    }
  }

  it('answers from standard input, then keeps running and printing after standard input closes', async () => {
    output = '';
    child = spawn(process.execPath, [EXAMPLE, 'olga', `${t.wsUrl}/ws`], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    await outputMatching(/\[connected\]/);

    const decision = t.http('POST', '/notify', notifyBody('olga', 'task-o', { callback_id: 'example-1' }));
    await outputMatching(/Continue\? Proceed\? \[y\/n\]/);
    child.stdin!.write('y\n');
    expect((await decision).body).toMatchObject({ callback_id: 'example-1', proceed: true, feedback: 'go on' });

    child.stdin!.end();
    await outputMatching(/standard input closed: still listening/);
    await t.http('POST', '/notify?wait=false', notifyBody('olga', 'task-o', { callback_id: 'example-2' }));
    await outputMatching(/"callback_id":"example-2"/);
    expect(child.exitCode).toBeNull();

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
