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
  it('keeps its prompt the last line while heartbeats and progress arrive, and re-asks after other output', async () => {
    output = '';
    child = spawn(process.execPath, [EXAMPLE, 'pia', `${t.wsUrl}/ws`], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    await outputMatching(/\[connected\]/);

    // Before any prompt: one compact line per beat, not the frame's JSON.
    const beats = await t.http('POST', '/heartbeats', { user_id: 'pia', task_id: 'task-p', interval_seconds: 0.05 });
    expect(beats.status).toBe(201);
    await outputMatching(/^\.\. heartbeat task-p: task still running\.\.\. at .+$/m);

    const decision = t.http('POST', '/notify', notifyBody('pia', 'task-p', { callback_id: 'example-3' }));
    const asked = /Continue\? Proceed\? \[y\/n\] $/;
    await outputMatching(asked);
    await sleep(500); // about ten beats and a progress update, none of which may bury the question
    await t.http('POST', '/tasks/task-p/messages', { type: 'task_progress', progress: 40 });
    await sleep(100);
    expect(output).toMatch(asked);

    // Other output goes above, and the question is asked again below it.
    await t.http('POST', '/users/pia/messages', { type: 'personal_notification', message: 'Backup finished' });
    await outputMatching(/"message":"Backup finished".*\n.*Continue\? Proceed\? \[y\/n\] $/);

    child.stdin!.write('y\n');
    expect((await decision).body).toMatchObject({ callback_id: 'example-3', proceed: true, feedback: 'go on' });
    await outputMatching(/\((\d+) heartbeat and progress updates while asking; the last: .+\)/);
    const [, count] = /\((\d+) heartbeat and progress updates while asking/.exec(output)!;
    expect(Number(count)).toBeGreaterThanOrEqual(3);
    expect(output).not.toContain('"type":"heartbeat"');
    await t.http('DELETE', `/heartbeats/${beats.body.heartbeat_id}`);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
