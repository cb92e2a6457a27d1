import { RedisServer } from './redis-server.js';
import { ServiceInstance } from './processes.js';

export interface Cluster {
  redis: RedisServer;
  instances: ServiceInstance[];
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A real redis-server and `size` instances of the built service pointing at it. */
export async function startCluster(size: number, env: Record<string, string> = {}, redisOptions = {}): Promise<Cluster> {
  const redis = await RedisServer.start(redisOptions);
  const shared = { REDIS_URL: redis.url, ...env };
  const instances = await Promise.all(Array.from({ length: size }, () => ServiceInstance.start(shared)));
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
