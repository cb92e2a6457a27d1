import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { validateEnvironment } from '../src/config/environment.js';
import { ServiceInstance, waitFor } from './support/processes.js';
import { RedisServer } from './support/redis-server.js';
import { requireProgram } from './support/system-dependency.js';
import { notifyBody } from './support/test-app.js';

const haveRedis = requireProgram('redis-server', 'redis-server');
const PASSWORD = 'pw-7Rq2-never-logged';
const WRONG_PASSWORD = 'pw-wrong-3Kx9-never-logged';

/** Secrets the running service holds: they work, and they never reach its output. */
(haveRedis ? describe : describe.skip)('secrets at runtime: the Redis password (built service, real Redis)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start({ args: ['--requirepass', PASSWORD] });
  });
  afterAll(() => redis?.close());

  it('is used and never logged: not at start, not while Redis is away, not when it is wrong', async () => {
    const url = (password: string) => `redis://:${password}@127.0.0.1:${redis.port}/0`;
    const [good, wrong] = await Promise.all([
      ServiceInstance.start({ REDIS_URL: url(PASSWORD), LOG_LEVEL: 'verbose' }),
      ServiceInstance.start({ REDIS_URL: url(WRONG_PASSWORD), LOG_LEVEL: 'verbose' }),
    ]);
    try {
      await waitFor(async () => (await good.http('GET', '/health')).status === 200, 15_000, 'readiness with the password');
      expect((await good.http('POST', '/notify?wait=false', notifyBody('pat', 'task-p'))).status).toBe(202);
      await redis.stop('SIGKILL');
      await waitFor(() => /Redis unavailable/.test(good.output), 10_000, 'the outage in the log');
      await redis.startProcess();
      await waitFor(async () => (await good.http('GET', '/health')).status === 200, 15_000, 'readiness after the outage');

      // The wrong password is refused by Redis, and the refusal is logged, without it.
      expect((await wrong.http('GET', '/health')).status).toBe(503);
      await waitFor(() => /Redis unavailable \(WRONGPASS/.test(wrong.output), 10_000, 'the refused password in the log');
    } finally {
      await good.stop('SIGTERM');
      await wrong.stop('SIGTERM');
    }
    for (const [name, output] of [['good', good.output], ['wrong', wrong.output]]) {
      expect({ [name]: output.includes(PASSWORD) || output.includes(WRONG_PASSWORD) }).toEqual({ [name]: false });
      expect({ [name]: /pw-[^\s"]*never-logged/.test(output) }).toEqual({ [name]: false });
    }
  }, 60_000);
});

describe('secrets at runtime: signing keys', () => {
  it('JWT_JWKS_URL must be https in production (keys fetched over http could be swapped in transit)', () => {
    const production = { NODE_ENV: 'production', AUTH_MODE: 'jwt', API_KEYS: 'k' };
    expect(() => validateEnvironment({ ...production, JWT_JWKS_URL: 'http://auth.example/.well-known/jwks.json' })).toThrow(
      /JWT_JWKS_URL: production fetches signing keys over https only/,
    );
    expect(() => validateEnvironment({ ...production, JWT_JWKS_URL: 'https://auth.example/.well-known/jwks.json' })).not.toThrow();
    // Outside production a local http key server is fine.
    expect(() => validateEnvironment({ AUTH_MODE: 'jwt', JWT_JWKS_URL: 'http://127.0.0.1:9999/jwks.json' })).not.toThrow();
  });
});
