import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { RedisServer } from './support/redis-server.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody, startTestApp, TestApp } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

/** A frame that must be serialized once: a prompt, or a message that waits for an ack. */
function isKeptFrame(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const frame = value as Record<string, unknown>;
  // message_id: the request that asked for the ack (parsed as any body is) is not the frame.
  return frame.type === 'task_step_result' || (frame.requires_ack === true && typeof frame.message_id === 'string');
}

/** Counts JSON.stringify of kept frames and JSON.parse that gives one back, in the app (it runs in this process). */
function countJson(): { stringified: number; parsed: number; restore(): void } {
  const { stringify, parse } = JSON;
  const counts = {
    stringified: 0,
    parsed: 0,
    restore: () => Object.assign(JSON, { stringify, parse }),
  };
  JSON.stringify = ((value: unknown, ...rest: []) => {
    if (isKeptFrame(value)) counts.stringified++;
    return stringify(value, ...rest);
  }) as typeof JSON.stringify;
  JSON.parse = ((text: string, ...rest: []) => {
    const value = parse(text, ...rest);
    // The test's own sockets parse what they receive: only the app's parses count.
    if (isKeptFrame(value) && !new Error().stack?.includes('test-client')) counts.parsed++;
    return value;
  }) as typeof JSON.parse;
  return counts;
}

/** The live frame carries its history offset; a resend does not. */
function withoutOffset(frame: Record<string, unknown>): Record<string, unknown> {
  const { offset: _offset, ...rest } = frame;
  return rest;
}

const modes: Array<[string, () => Promise<{ env: Record<string, unknown>; close(): Promise<void> }>]> = [
  ['memory mode', async () => ({ env: {}, close: async () => undefined })],
];
if (haveRedis) {
  modes.push([
    'cluster mode',
    async () => {
      const redis = await RedisServer.start();
      return { env: { REDIS_URL: redis.url }, close: () => redis.close() };
    },
  ]);
}

/** Issue 20 item 7: a kept frame is serialized once, from creation to every resend. */
describe.each(modes)('frames kept serialized (%s)', (_mode, backing) => {
  let t: TestApp;
  let shared: { close(): Promise<void> };
  let counts: ReturnType<typeof countJson> | undefined;

  beforeAll(async () => {
    shared = await backing();
    t = await startTestApp((shared as unknown as { env: Record<string, unknown> }).env);
  }, 60_000);
  afterEach(() => counts?.restore());
  afterAll(async () => {
    await t?.close();
    await shared?.close();
  });

  it('a prompt is stringified once for its store, its delivery and a new tab, and never parsed', async () => {
    const first = await t.connect('pat');
    counts = countJson();
    const posted = await t.http('POST', '/notify?wait=false', notifyBody('pat', 'task-s'));
    expect(posted.status).toBe(202);
    const prompt = await first.next('task_step_result');
    const second = await t.connect('pat');
    expect(withoutOffset(await second.next('task_step_result'))).toEqual(withoutOffset(prompt));
    expect({ stringified: counts.stringified, parsed: counts.parsed }).toEqual({ stringified: 1, parsed: 0 });
  });

  it('a message waiting for an ack is stringified once for its store, its delivery and its resend, and never parsed', async () => {
    const first = await t.connect('quinn');
    counts = countJson();
    const sent = await t.http('POST', '/users/quinn/messages', { type: 'notice', text: 'hello', requires_ack: true });
    expect(sent.status).toBe(200);
    const message = await first.next('notice');
    const second = await t.connect('quinn');
    expect(withoutOffset(await second.next('notice'))).toEqual(withoutOffset(message));
    expect({ stringified: counts.stringified, parsed: counts.parsed }).toEqual({ stringified: 1, parsed: 0 });
  });
});
