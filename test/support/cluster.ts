import { RedisClusterServers } from './redis-cluster.js';
import { RedisServer } from './redis-server.js';
import { ServiceInstance } from './processes.js';

export interface Cluster {
  redis: RedisServer;
  /** The Redis Cluster, when the instances run on one (startOnRedisCluster). */
  redisCluster?: RedisClusterServers;
  instances: ServiceInstance[];
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A real redis-server and `size` instances of the built service pointing at it. */
export async function startCluster(size: number, env: Record<string, string> = {}, redisOptions = {}): Promise<Cluster> {
  const redis = await RedisServer.start(redisOptions);
  const shared = { REDIS_URL: redis.url, ...env };
  const instances = await startInstances(size, shared, () => redis.close());
  return {
    redis,
    instances,
    env: shared,
    async close() {
      await Promise.all(instances.map((instance) => instance.stop()));
      await redis.close();
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `size` instances on a three-master Redis Cluster (REDIS_CLUSTER=true). */
export async function startOnRedisCluster(size: number, env: Record<string, string> = {}): Promise<Cluster> {
  const redisCluster = await RedisClusterServers.start();
  const shared = { REDIS_URL: redisCluster.url, REDIS_CLUSTER: 'true', ...env };
  const instances = await startInstances(size, shared, () => redisCluster.close());
  return {
    redis: redisCluster.nodes[0],
    redisCluster,
    instances,
    env: shared,
    async close() {
      await Promise.all(instances.map((instance) => instance.stop()));
      await redisCluster.close();
    },
  };
}

/**
 * Starts the instances; if any fails, stops the others and Redis, so no child process is
 * left behind (it would keep the test runner from exiting).
 */
async function startInstances(size: number, env: Record<string, string>, closeRedis: () => Promise<void>): Promise<ServiceInstance[]> {
  const started = await Promise.allSettled(Array.from({ length: size }, () => ServiceInstance.start(env)));
  const instances = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) {
    await Promise.all(instances.map((instance) => instance.stop()));
    await closeRedis();
    throw failure.reason;
  }
  return instances;
}
