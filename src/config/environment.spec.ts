import { describe, expect, it } from '@jest/globals';
import { parseSentinels, validateEnvironment } from './environment.js';

describe('validateEnvironment', () => {
  it('applies every default when nothing is set', () => {
    const env = validateEnvironment({});
    expect(env).toMatchObject({
      WEBSOCKET_HOST: '0.0.0.0',
      WEBSOCKET_PORT: 8765,
      WEBSOCKET_MAX_CONNECTIONS: 1000,
      WEBSOCKET_PING_INTERVAL: 30,
      WEBSOCKET_PING_TIMEOUT: 10,
      WEBSOCKET_CALLBACK_TIMEOUT: 300,
      WEBSOCKET_TIMEOUT_DECISION: 'proceed',
    });
  });

  it('converts numeric strings and ignores unrelated variables', () => {
    const env = validateEnvironment({ WEBSOCKET_PORT: '9000', WEBSOCKET_PING_INTERVAL: '0.5', PATH: '/bin', EMPTY: '' });
    expect(env.WEBSOCKET_PORT).toBe(9000);
    expect(env.WEBSOCKET_PING_INTERVAL).toBe(0.5);
    expect(env).not.toHaveProperty('PATH');
  });

  it('treats an empty value as unset', () => {
    expect(validateEnvironment({ WEBSOCKET_PORT: '' }).WEBSOCKET_PORT).toBe(8765);
  });

  it('names every bad variable in one error', () => {
    expect(() =>
      validateEnvironment({ WEBSOCKET_PORT: 'eighty', WEBSOCKET_TIMEOUT_DECISION: 'maybe', WEBSOCKET_MAX_CONNECTIONS: '0' }),
    ).toThrow(/WEBSOCKET_PORT="eighty".*\n.*WEBSOCKET_MAX_CONNECTIONS.*\n.*WEBSOCKET_TIMEOUT_DECISION="maybe"/s);
  });

  it('reads yes/no settings and names a value that is neither', () => {
    expect(validateEnvironment({}).WEBSOCKET_PERMESSAGE_DEFLATE).toBe(false);
    expect(validateEnvironment({ WEBSOCKET_PERMESSAGE_DEFLATE: 'yes' }).WEBSOCKET_PERMESSAGE_DEFLATE).toBe(true);
    expect(validateEnvironment({ WEBSOCKET_PERMESSAGE_DEFLATE: '0' }).WEBSOCKET_PERMESSAGE_DEFLATE).toBe(false);
    expect(() => validateEnvironment({ WEBSOCKET_PERMESSAGE_DEFLATE: 'maybe' })).toThrow(/WEBSOCKET_PERMESSAGE_DEFLATE="maybe"/);
  });

  it('refuses durations a timer cannot hold', () => {
    expect(() => validateEnvironment({ WEBSOCKET_MAX_CALLBACK_TIMEOUT: String(30 * 86400 + 1) })).toThrow(/WEBSOCKET_MAX_CALLBACK_TIMEOUT/);
    expect(() => validateEnvironment({ SHUTDOWN_GRACE_SECONDS: '3000000' })).toThrow(/SHUTDOWN_GRACE_SECONDS/);
  });

  it('allows a decision 30 days long, longer than one timer, and holds one HTTP call at most NOTIFY_MAX_WAIT_SECONDS', () => {
    expect(validateEnvironment({ WEBSOCKET_MAX_CALLBACK_TIMEOUT: String(30 * 86400) }).WEBSOCKET_MAX_CALLBACK_TIMEOUT).toBe(30 * 86400);
    expect(validateEnvironment({}).NOTIFY_MAX_WAIT_SECONDS).toBe(50);
    expect(validateEnvironment({ NOTIFY_MAX_WAIT_SECONDS: '1' }).NOTIFY_MAX_WAIT_SECONDS).toBe(1);
    expect(() => validateEnvironment({ NOTIFY_MAX_WAIT_SECONDS: '0' })).toThrow(/NOTIFY_MAX_WAIT_SECONDS/);
    expect(() => validateEnvironment({ NOTIFY_MAX_WAIT_SECONDS: '301' })).toThrow(/NOTIFY_MAX_WAIT_SECONDS/);
  });

  it('refuses a port out of range', () => {
    expect(() => validateEnvironment({ WEBSOCKET_PORT: '70000' })).toThrow(/WEBSOCKET_PORT/);
  });

  it('accepts redis:// and rediss:// URLs and names a malformed one without showing it', () => {
    expect(validateEnvironment({}).REDIS_URL).toBeUndefined();
    expect(validateEnvironment({ REDIS_URL: 'redis://127.0.0.1:6379/0' }).REDIS_URL).toBe('redis://127.0.0.1:6379/0');
    expect(validateEnvironment({ REDIS_URL: 'rediss://:s3cret@cache.internal:6380' }).REDIS_KEY_PREFIX).toBe('cgw:');
    for (const bad of ['http://127.0.0.1:6379', 'redis://', 'redis://host/notadb', '127.0.0.1:6379']) {
      expect(() => validateEnvironment({ REDIS_URL: bad })).toThrow(/REDIS_URL=\(hidden\): must look like redis:\/\//);
    }
    const refusal = refusalOf({ REDIS_URL: 'redis://:leaked@h:1/x' });
    expect(refusal).toMatch(/REDIS_URL=\(hidden\)/);
    expect(refusal).not.toContain('leaked');
    expect(() => validateEnvironment({ REDIS_KEY_PREFIX: 'a{b}' })).toThrow(/REDIS_KEY_PREFIX/);
  });

  it('reads a sentinel list and refuses an incomplete Sentinel combination with a clear message', () => {
    const sentinel = { REDIS_SENTINELS: 's1:26379, 10.0.0.2:26380', REDIS_SENTINEL_MASTER_NAME: 'cgw-primary' };
    expect(validateEnvironment(sentinel).REDIS_SENTINELS).toBe('s1:26379, 10.0.0.2:26380');
    expect(parseSentinels('s1:26379, 10.0.0.2:26380')).toEqual([{ host: 's1', port: 26379 }, { host: '10.0.0.2', port: 26380 }]);
    expect(validateEnvironment({ ...sentinel, REDIS_URL: 'redis://:data@cgw-primary/2' }).REDIS_URL).toBe('redis://:data@cgw-primary/2');
    for (const NODE_ENV of ['development', 'production']) {
      expect(() => validateEnvironment({ NODE_ENV, ALLOW_INSECURE_AUTH_NONE: 'true', API_KEYS: 'k', REDIS_SENTINELS: 's1:26379' })).toThrow(/REDIS_SENTINELS: needs REDIS_SENTINEL_MASTER_NAME/);
    }
    expect(() => validateEnvironment({ REDIS_SENTINEL_MASTER_NAME: 'cgw-primary' })).toThrow(/REDIS_SENTINEL_MASTER_NAME: needs REDIS_SENTINELS/);
    expect(() => validateEnvironment({ REDIS_SENTINEL_PASSWORD: 'pw' })).toThrow(/REDIS_SENTINEL_PASSWORD: needs REDIS_SENTINELS/);
    expect(() => validateEnvironment({ ...sentinel, REDIS_CLUSTER: 'true' })).toThrow(/REDIS_CLUSTER: a Redis Cluster fails over by itself/);
    expect(() => validateEnvironment({ ...sentinel, REDIS_URL: 'redis://:leaked@10.0.0.9:6379/0' })).toThrow(/REDIS_URL: with REDIS_SENTINELS it carries only/);
    expect(() => validateEnvironment({ REDIS_SENTINELS: 's1' })).toThrow(/REDIS_SENTINELS: comma-separated host:port/);
    expect(() => validateEnvironment({ REDIS_SENTINEL_PASSWORD: 'leaked' })).not.toThrow(/leaked/);
  });

  it('REDIS_WAIT_REPLICAS needs one primary with replicas and a WAIT timeout below the command timeout', () => {
    expect(validateEnvironment({ REDIS_URL: 'redis://h:1/0', REDIS_WAIT_REPLICAS: '1' })).toMatchObject({ REDIS_WAIT_REPLICAS: 1, REDIS_WAIT_TIMEOUT_MS: 500 });
    expect(() => validateEnvironment({ REDIS_WAIT_REPLICAS: '1' })).toThrow(/REDIS_WAIT_REPLICAS: needs cluster mode/);
    expect(() => validateEnvironment({ REDIS_URL: 'redis://h:1/0', REDIS_CLUSTER: 'true', REDIS_WAIT_REPLICAS: '1' })).toThrow(/not a Redis Cluster/);
    expect(() => validateEnvironment({ REDIS_URL: 'redis://h:1/0', REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '2000' })).toThrow(/REDIS_WAIT_TIMEOUT_MS: must be below REDIS_COMMAND_TIMEOUT_SECONDS/);
  });
});

/** The message validation refuses `env` with; fails the test if it is accepted. */
function refusalOf(env: Record<string, string>): string {
  try {
    validateEnvironment(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(Object.keys(env))}`);
}
