import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';
import { GatewayClient, type Prompt } from '../clients/js/dist/index.js';
import { sleep } from './support/cluster.js';
import { NginxServer } from './support/nginx.js';
import { ServiceInstance, waitFor } from './support/processes.js';
import { RedisServer } from './support/redis-server.js';
import { locateProgram, requireProgram } from './support/system-dependency.js';
import { request } from './support/test-app.js';
import { report } from './support/report.js';

const haveRedis = requireProgram('redis-server', 'redis-server');
const nginxBinary = locateProgram('nginx', 'nginx', ['/usr/sbin', '/usr/local/sbin']);
const python = pythonWithHttpx();

const USERS = 30;
const PREFIX = 'roll-u';

type Frame = Record<string, any>;

/**
 * A rolling deploy under load, as Kubernetes does it: each of three instances behind the
 * deployment's nginx in turn gets SIGTERM (readiness turns 503, sockets are closed with
 * 1001, waiting callers get 503 with Retry-After), exits, starts again and is ready before
 * the next one goes. Meanwhile 30 users on the real JS SDK (dist/) answer prompts, Python
 * task services (clients/python) wait on their decisions, and pushes flow to every user.
 */
(haveRedis && nginxBinary && python ? describe : describe.skip)('rolling deploy under load (e2e)', () => {
  let redis: RedisServer;
  let instances: ServiceInstance[] = [];
  let nginx: NginxServer;
  let callers: ChildProcess | undefined;
  let pusher: Pusher | undefined;
  const users: User[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start({ persistent: true });
    const env = { REDIS_URL: redis.url, SHUTDOWN_GRACE_SECONDS: '10', WEBSOCKET_RATE_LIMIT: '100', WEBSOCKET_RATE_BURST: '200' };
    const started = await Promise.allSettled([0, 1, 2].map(() => ServiceInstance.start(env)));
    instances = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    nginx = await NginxServer.start(nginxBinary!, instances.map((instance) => instance.port));
  }, 150_000);

  afterAll(async () => {
    callers?.kill('SIGKILL');
    await pusher?.stop();
    for (const user of users) user.client.disconnect();
    await nginx?.close();
    await Promise.all(instances.map((instance) => instance.stop()));
    await redis?.close();
  });

  it('loses no decision, decides none twice, answers every caller, and every client resumes without a gap', async () => {
    for (let i = 0; i < USERS; i++) users.push(new User(`${PREFIX}${i}`, `${nginx.wsUrl}/ws`));
    await waitFor(() => users.every((user) => user.client.state === 'connected'), 30_000, 'every user connected');

    const events = startCallers(nginx.baseUrl);
    callers = events.child;
    const pushes = (pusher = new Pusher(nginx.baseUrl, users.map((user) => user.id)));
    await waitFor(() => events.decided.size >= USERS, 30_000, 'a first decision per user');

    const deploy: string[] = [];
    for (const instance of instances) {
      const began = Date.now();
      const stopped = instance.stop('SIGTERM');
      // Readiness fails at once (503, then nothing), so Kubernetes takes the pod out of its endpoints.
      await waitFor(async () => (await instance.http('GET', '/health').catch(() => ({ status: 0 }))).status !== 200, 5_000, 'readiness to fail');
      await stopped;
      const exitedMs = Date.now() - began;
      // The drain ends by itself: connections that carried a request while draining (nginx's
      // upstream keep-alive, this test's probes) closed, not held until the grace period's exit(1).
      expect({ port: instance.port, graceRanOut: instance.output.includes('Shutdown grace period over') }).toEqual({ port: instance.port, graceRanOut: false });
      expect(exitedMs).toBeLessThan(5_000);
      await instance.startProcess();
      await waitFor(async () => (await instance.http('GET', '/health').catch(() => ({ status: 0 }))).status === 200, 30_000, 'ready again');
      deploy.push(`:${instance.port} drained in ${exitedMs} ms, ready after ${Date.now() - began} ms`);
    }
    const decidedDuringDeploy = events.decided.size;
    await sleep(2_000);

    // Finish: no new asks; every ask in flight gets its decision; every acknowledged push arrives.
    callers.stdin!.end();
    await waitFor(() => events.done, 60_000, 'the callers to finish');
    await pushes.stop();
    await waitFor(() => users.every((user) => pushes.acknowledgedFor(user.id).every((seq) => user.pushes.includes(seq))), 20_000, 'every acknowledged push delivered');

    // Every caller got its decision, the one the user gave, exactly once.
    expect(events.failed).toEqual([]);
    expect([...events.asked].filter((id) => !events.decided.has(id))).toEqual([]);
    const accepted = new Map<string, Frame[]>();
    for (const user of users) for (const frame of user.accepted) accepted.set(frame.callback_id, [...(accepted.get(frame.callback_id) ?? []), frame]);
    for (const [callbackId, decision] of events.decided) {
      expect({ callbackId, timed_out: decision.timed_out, cancelled: decision.cancelled }).toEqual({ callbackId, timed_out: false, cancelled: false });
      expect(decision.proceed).toBe(expectedProceed(callbackId));
      expect(decision.feedback).toMatch(new RegExp(`^answer ${callbackId} #\\d+$`));
      const acceptances = accepted.get(callbackId) ?? [];
      expect(acceptances.length).toBeLessThanOrEqual(1);
      if (acceptances.length === 1) expect(acceptances[0].feedback).toBe(decision.feedback);
    }
    const sample = [...events.decided.keys()].filter((_, index) => index % 25 === 0);
    for (const callbackId of sample) {
      const stored = await request(nginx.baseUrl, 'GET', `/confirmations/${encodeURIComponent(callbackId)}`);
      expect({ callbackId, state: stored.body.state, feedback: stored.body.feedback }).toEqual({
        callbackId,
        state: expectedProceed(callbackId) ? 'confirmed' : 'rejected',
        feedback: events.decided.get(callbackId)!.feedback,
      });
    }

    // Every client came back on its own and resumed each stream without a gap, and every
    // push arrived once, in order: the raw frames, before the SDK's own duplicate check.
    for (const user of users) {
      expect({ user: user.id, stopped: user.client.stopReason }).toEqual({ user: user.id, stopped: null });
      expect(user.connections).toBeGreaterThanOrEqual(2);
      expect(user.resumed.filter((frame) => frame.stream === 'user').length).toBeGreaterThanOrEqual(1);
      expect(user.resumed.filter((frame) => frame.recovered !== true)).toEqual([]);
      expect(user.pushes).toEqual([...new Set(user.pushes)].sort((a, b) => a - b));
      const offsets = user.rawUserOffsets;
      expect(offsets).toEqual([...new Set(offsets)].sort((a, b) => a - b));
      expect(user.pushes.filter((seq) => !pushes.sent.has(seq))).toEqual([]);
    }

    // nginx never took every instance out at once (its default: out for 10 s after one failure).
    expect(nginx.output.match(/no live upstreams/g) ?? []).toEqual([]);

    const reconnects = users.reduce((sum, user) => sum + user.connections - 1, 0);
    report(
      `rolling deploy: ${deploy.join('; ')}; ${events.decided.size} decisions (${decidedDuringDeploy} by the end of the deploy), ` +
        `${pushes.acknowledgedCount} pushes acknowledged (${pushes.refused} refused), ${reconnects} reconnects, ` +
        `longest caller wait ${Math.max(...[...events.decided.values()].map((d) => d.seconds))} s`,
    );
  }, 180_000);
});

/** Deterministic per step, so a wrong decision shows. */
function expectedProceed(callbackId: string): boolean {
  return Number(/-step-(\d+)$/.exec(callbackId)![1]) % 3 !== 0;
}

/** One person with one tab: the SDK, answering each prompt after a moment's thought. */
class User {
  readonly client: GatewayClient;
  readonly accepted: Frame[] = [];
  readonly resumed: Frame[] = [];
  readonly pushes: number[] = [];
  readonly rawUserOffsets: number[] = [];
  connections = 0;
  private readonly attempts = new Map<string, number>();

  constructor(
    readonly id: string,
    url: string,
  ) {
    const rawUserOffsets = this.rawUserOffsets;
    /** `ws`, recording every frame as it arrives, before the SDK looks at it. */
    class RecordingWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        this.on('message', (data) => {
          const frame = JSON.parse(String(data)) as Frame;
          if (typeof frame.offset === 'number' && !['connected', 'resumed', 'subscription_confirmed'].includes(frame.type)) rawUserOffsets.push(frame.offset);
        });
      }
    }
    this.client = new GatewayClient({ url, userId: id, WebSocket: RecordingWebSocket, pingIntervalMs: 0 });
    this.client.on('prompt', (prompt) => this.answerSoon(prompt));
    this.client.on('resumed', (frame) => this.resumed.push(frame));
    this.client.on('notice', (frame) => this.pushes.push((frame as Frame).seq));
    this.client.on('state', (change) => {
      if (change.state !== 'connected') return;
      this.connections += 1;
      // An answer cut off by the restart is given again: the prompt is still pending here.
      for (const prompt of this.client.pendingPrompts()) this.answerSoon(prompt);
    });
    this.client.connect();
  }

  private answerSoon(prompt: Prompt): void {
    setTimeout(() => {
      if (!this.client.pendingPrompts().some((pending) => pending.callback_id === prompt.callback_id)) return;
      const attempt = (this.attempts.get(prompt.callback_id) ?? 0) + 1;
      this.attempts.set(prompt.callback_id, attempt);
      prompt.answer(expectedProceed(prompt.callback_id), `answer ${prompt.callback_id} #${attempt}`).then(
        (frame) => this.accepted.push(frame),
        () => undefined, // not connected or already settled: the reconnect answers again
      );
    }, 50 + Math.random() * 250);
  }
}

/** Personal notifications numbered per deployment, each posted once (a failed post is not retried). */
class Pusher {
  readonly sent = new Set<number>();
  private readonly acknowledged = new Map<string, number[]>();
  refused = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly baseUrl: string,
    private readonly userIds: string[],
  ) {
    this.loop = this.run();
  }

  get acknowledgedCount(): number {
    return [...this.acknowledged.values()].reduce((sum, list) => sum + list.length, 0);
  }

  acknowledgedFor(userId: string): number[] {
    return this.acknowledged.get(userId) ?? [];
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let seq = 0; this.running; seq++) {
      const userId = this.userIds[seq % this.userIds.length];
      this.sent.add(seq);
      const response = await fetch(`${this.baseUrl}/users/${userId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'personal_notification', message: `push ${seq}`, seq }),
        signal: AbortSignal.timeout(5_000),
      }).catch(() => null);
      await response?.arrayBuffer().catch(() => undefined);
      if (response?.status === 200) this.acknowledged.set(userId, [...this.acknowledgedFor(userId), seq]);
      else this.refused += 1;
      await sleep(15);
    }
  }
}

interface CallerEvents {
  child: ChildProcess;
  asked: Set<string>;
  decided: Map<string, { proceed: boolean; feedback: string | null; timed_out: boolean; cancelled: boolean; seconds: number }>;
  failed: Frame[];
  done: boolean;
}

/** The Python callers (test/support/rolling-callers.py), one asking worker per user. */
function startCallers(baseUrl: string): CallerEvents {
  const child = spawn(python!, [resolve('test/support/rolling-callers.py'), baseUrl, String(USERS), PREFIX], {
    env: { PATH: process.env.PATH ?? '', PYTHONPATH: resolve('clients/python/src') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const events: CallerEvents = { child, asked: new Set(), decided: new Map(), failed: [], done: false };
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  child.on('exit', (code) => {
    if (code !== 0 && !events.done) events.failed.push({ exit: code, stderr: stderr.slice(-2000) });
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const event = JSON.parse(line) as Frame;
    if (event.event === 'asked') events.asked.add(event.callback_id);
    else if (event.event === 'decided') events.decided.set(event.callback_id, event as never);
    else if (event.event === 'failed') events.failed.push(event);
    else if (event.event === 'done') events.done = true;
  });
  return events;
}

/** As clients/python/run-tests.sh looks for it: $PYTHON, Debian's python3, python3 on PATH. */
function pythonWithHttpx(): string | null {
  for (const candidate of [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c)) {
    try {
      execFileSync(candidate, ['-c', 'import sys, httpx; sys.exit(sys.version_info < (3, 9))'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not this one
    }
  }
  const message = 'No Python 3.9+ with httpx for the Python callers: apt-get install python3 python3-httpx';
  if (process.env.CI === 'true') throw new Error(`${message} (required under CI)`);
  process.stderr.write(`\n*** SKIPPING: ${message} ***\n\n`);
  return null;
}
