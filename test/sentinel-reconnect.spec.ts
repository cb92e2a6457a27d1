import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { requireProgram } from './support/system-dependency.js';
import { MASTER_NAME, SentinelDeployment } from './support/redis-sentinel.js';
import { waitFor } from './support/processes.js';
import { closeRedisConnection, openRedisConnection } from '../src/redis/redis-connection.js';

const haveRedis = requireProgram('redis-server', 'redis-server');

beforeAll(() => Logger.overrideLogger(false));
afterAll(() => Logger.overrideLogger(['error', 'warn', 'log']));

function waitForStatus(redis: Redis, status: string, ms: number): Promise<void> {
  return waitFor(() => redis.status === status, ms, `connection status ${status}`);
}

(haveRedis ? describe : describe.skip)('a connection through sentinels', () => {
  let deployment: SentinelDeployment;
  beforeAll(async () => {
    deployment = await SentinelDeployment.start();
  }, 30_000);
  afterAll(() => deployment.close());

  function open(): Redis {
    const sentinels = deployment.sentinelList.split(',').map((address) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) }));
    return openRedisConnection({ sentinel: { sentinels, masterName: MASTER_NAME }, commandTimeoutMs: 1000, name: 'spec', queueWhileOffline: false, cluster: false }) as Redis;
  }

  it('is opened again when ioredis gives up on a reconnect (its failover detector cut the sentinel lookup short)', async () => {
    const redis = open();
    await waitForStatus(redis, 'ready', 5000);
    // What ioredis does when the failover detector disconnects the connector during a
    // reconnect's sentinel lookup: the connect rejects, and the client ends for good.
    const connector = (redis as unknown as { connector: { connect: (...args: unknown[]) => Promise<unknown> } }).connector;
    const connect = connector.connect.bind(connector);
    connector.connect = () => {
      connector.connect = connect;
      return Promise.reject(new Error('Connection is closed.'));
    };
    redis.disconnect(true);
    await waitForStatus(redis, 'end', 5000);
    await waitForStatus(redis, 'ready', 5000);
    expect(await redis.ping()).toBe('PONG');
    await closeRedisConnection(redis);
  }, 20_000);

  it('stays closed once closed here', async () => {
    const redis = open();
    await waitForStatus(redis, 'ready', 5000);
    await closeRedisConnection(redis);
    await waitForStatus(redis, 'end', 2000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(redis.status).toBe('end');
  }, 20_000);
});
