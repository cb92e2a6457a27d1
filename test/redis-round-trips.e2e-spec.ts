import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { RedisService } from '../src/redis/redis.service.js';
import { RedisServer } from './support/redis-server.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody, sleep, startTestApp, TestApp } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

interface Sent {
  name: string;
  args: string[];
  /** Sequential round trip it belongs to: a command sent after a reply starts the next one. */
  round: number;
}

/**
 * Records the commands of the app's command connection that mention `token` (a user or
 * callback id only this test uses, so timers' traffic stays out), each with its round trip.
 */
class RoundTrips {
  private sent: Sent[] = [];
  private round = 0;
  private repliedSinceLastSend = true;

  constructor(
    redis: RedisService,
    private readonly token: string,
  ) {
    type Command = { name: string; args: unknown[]; resolve: (value: unknown) => void };
    const client = redis.commands as unknown as { sendCommand(command: Command, ...rest: unknown[]): unknown };
    const send = client.sendCommand.bind(client);
    client.sendCommand = (command, ...rest) => {
      const args = command.args.map((arg) => (Buffer.isBuffer(arg) ? arg.toString() : String(arg)));
      if (args.some((arg) => arg.includes(this.token))) {
        if (this.repliedSinceLastSend) this.round++;
        this.repliedSinceLastSend = false;
        this.sent.push({ name: command.name, args, round: this.round });
        const resolve = command.resolve;
        command.resolve = (value) => {
          this.repliedSinceLastSend = true;
          resolve(value);
        };
      }
      return send(command, ...rest);
    };
  }

  get commands(): readonly Sent[] {
    return this.sent;
  }

  reset(): void {
    this.sent = [];
    this.round = 0;
    this.repliedSinceLastSend = true;
  }
}

/** Issue 20 item 7: the cluster hot path, counted on a real redis-server. */
(haveRedis ? describe : describe.skip)('Redis round trips of POST /notify (cluster mode)', () => {
  let redis: RedisServer;
  let t: TestApp;

  beforeAll(async () => {
    redis = await RedisServer.start();
    t = await startTestApp({ REDIS_URL: redis.url });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it('publishes the prompt after at most two sequential round trips', async () => {
    const user = `rt-${randomUUID()}`;
    const trips = new RoundTrips(t.app.get(RedisService), user);
    const tab = await t.connect(user);
    await sleep(100); // the user's channel subscription is not what is counted
    trips.reset();

    const posted = await t.http('POST', '/notify?wait=false', notifyBody(user, 'task-rt', { callback_id: `${user}-cb` }));
    expect(posted.status).toBe(202);
    expect((await tab.next('task_step_result')).callback_id).toBe(`${user}-cb`);

    const publish = trips.commands.find((c) => c.args.some((arg) => arg.includes(`ch:user:${user}`)));
    const summary = trips.commands.map((c) => `${c.round} ${c.name}`).join(', ');
    expect(publish).toBeDefined();
    // Round trips before the one that publishes: the claim, the reservation and the task's
    // users together, then the create script.
    expect(`${(publish as Sent).round - 1} round trips before publishing: ${summary}`).toMatch(/^[12] round trips/);
  });
});
